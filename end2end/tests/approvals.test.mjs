// Approvals in two browsers: with TRAILKEEPER_APPROVALS=destructive, one admin asks to
// schedule a secret's deletion from its page; the change waits on the Changes page, where
// that admin cannot approve it and a second admin, in another browser, does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { launchBrowser, repoRoot, signedIn, startServer } from './server.mjs';

// A region of its own in the AWS peer the suites share.
const region = 'ap-southeast-5';
const name = 'e2e/approvals/legacy-token';
let server;
let browser;

function deletionDate() {
  const script = `
import boto3, os
client = boto3.client('secretsmanager', region_name='${region}', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
print(client.describe_secret(SecretId='${name}').get('DeletedDate') or '')
`;
  const described = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', script], { encoding: 'utf8' });
  assert.equal(described.status, 0, described.stderr);
  return described.stdout.trim();
}

const signIn = (user, password) => signedIn(browser, server.url, user, password);

before(async () => {
  const script = `
import boto3, os
boto3.client('secretsmanager', region_name='${region}', endpoint_url=os.environ['AWS_ENDPOINT_URL']).create_secret(
    Name='${name}', SecretString=os.urandom(16).hex())
`;
  const seeded = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', script], { encoding: 'utf8' });
  assert.equal(seeded.status, 0, `seeding the AWS peer failed:\n${seeded.stderr}`);
  server = await startServer({ TRAILKEEPER_REGIONS: region, TRAILKEEPER_APPROVALS: 'destructive' });
  const synced = await server.run(['sync', '--regions', region]);
  assert.equal(synced.code, 0, synced.stderr);
  const added = await server.run(['user', 'add', 'grace', '--role', 'admin', '--password-stdin'], 'a second admin password\n');
  assert.equal(added.code, 0, added.stderr);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a deletion asked by one admin waits until a second admin approves it', async () => {
  const asker = await signIn(server.admin.user, server.admin.password);
  await asker.goto(`${server.url}/secrets/${name}`);
  await asker.waitForLoadState('networkidle');
  await asker.getByTestId('deletion-actions').evaluate((details) => { details.open = true; });
  const deletion = asker.getByTestId('delete-secret');
  await deletion.getByLabel('Reason').fill('retired with the old billing system');
  await deletion.getByLabel(`Type ${name} to confirm`).fill(name);
  await deletion.getByRole('button', { name: 'Schedule deletion' }).click();
  await asker.getByTestId('change-outcome').filter({ hasText: 'asked a second admin to approve' }).waitFor();
  assert.equal(deletionDate(), '', 'nothing reached AWS yet');

  // The asker sees the request, and no Approve button on it.
  await asker.goto(`${server.url}/changes`);
  const own = asker.getByTestId('changes').locator('tr[data-status="pending"]');
  await own.waitFor();
  assert.match(await own.innerText(), /retired with the old billing system/);
  assert.equal(await own.getByRole('button', { name: 'Approve' }).count(), 0);

  const approver = await signIn('grace', 'a second admin password');
  await approver.goto(`${server.url}/changes`);
  await approver.waitForLoadState('networkidle');
  const pending = approver.getByTestId('changes').locator('tr[data-status="pending"]');
  await pending.getByLabel('Comment').fill('nothing reads it since March');
  await pending.getByRole('button', { name: 'Approve' }).click();
  await approver.getByTestId('decision-outcome').filter({ hasText: 'approved' }).waitFor();
  const approved = approver.getByTestId('changes').locator('tr[data-status="approved"]');
  await approved.waitFor();
  assert.match(await approved.innerText(), /grace/);
  assert.notEqual(deletionDate(), '', 'approved, AWS scheduled the deletion');
});
