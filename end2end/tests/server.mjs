// The browser tests' harness: starts the real release `trailkeeper serve` on its own embedded
// PostgreSQL (a fresh data directory) and a free port, runs other trailkeeper commands beside
// it, and launches Debian's Chromium.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const binary = process.env.TRAILKEEPER_BIN ?? path.join(repoRoot, 'target', 'release', 'trailkeeper');

/** Starts `serve` with `env` added to its environment (for example single sign-on settings). */
export async function startServer(env = {}) {
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
      // The AWS API peer has no CloudTrail LookupEvents.
      TRAILKEEPER_LOOKUP_INTERVAL: 'off',
      // The tests' alert receivers listen on this machine.
      TRAILKEEPER_ALERT_ALLOWED_HOSTS: '127.0.0.1',
      LEPTOS_SITE_ROOT: path.join(repoRoot, 'target', 'site'),
      NO_COLOR: '1',
      ...env,
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

  // The first start creates `admin` and prints its password once.
  const password = output.match(/password: (\S+)/)?.[1];
  if (!password) throw new Error(`trailkeeper printed no admin password:\n${output}`);

  return {
    url,
    dataDir,
    admin: { user: 'admin', password },
    /** Runs another trailkeeper command on the same data directory (and so the same database). */
    run(args, input) {
      return runTrailkeeper(args, { TRAILKEEPER_DATA_DIR: dataDir }, input);
    },
    output: () => output,
    /** Sends SIGTERM and resolves with how the process ended. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the binary to completion; resolves with its exit code and output. */
export function runTrailkeeper(args, env, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: '', NO_COLOR: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Debian's Chromium, headless; Playwright gives each launch a fresh, empty profile. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** A page in a browser context of its own, signed in to `url` as `user`. */
export async function signedIn(browser, url, user, password) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').waitFor();
  return page;
}
