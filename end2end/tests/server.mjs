// Starts the real release `trailkeeper serve` on its own embedded PostgreSQL (a fresh data
// directory) and a free port, and stops it again.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const binary = process.env.TRAILKEEPER_BIN ?? path.join(repoRoot, 'target', 'release', 'trailkeeper');

export async function startServer() {
  const scratch = await mkdtemp(path.join(tmpdir(), 'trailkeeper-e2e-'));
  // Run as root, trailkeeper runs PostgreSQL as `postgres`, which must be able to enter here.
  await chmod(scratch, 0o755);
  const dataDir = path.join(scratch, 'data');
  const child = spawn(binary, ['serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: '',
      TRAILKEEPER_DATA_DIR: dataDir,
      TRAILKEEPER_LISTEN: '127.0.0.1:0',
      LEPTOS_SITE_ROOT: path.join(repoRoot, 'target', 'site'),
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

  // The server prints its address once it listens; the first start also runs initdb.
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`trailkeeper did not start within 120 s:\n${output}`)), 120_000);
    const look = () => {
      const match = output.match(/serving on (http:\/\/127\.0\.0\.1:\d+)/);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    };
    child.stdout.on('data', look);
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`trailkeeper exited with ${code}:\n${output}`)); });
  });

  return {
    url,
    dataDir,
    output: () => output,
    /** Sends SIGTERM and resolves with how the process ended. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
