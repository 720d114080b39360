// Administration in a real browser: an admin rolls a secret back from its page, with a
// reason, and sees the labels move at once; the audit log names them; an auditor sees no
// Actions at all.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { launchBrowser, repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
// A region of its own in the AWS peer the suites share.
const region = 'ca-west-1';
let server;
let browser;
let versions;

/** Two versions of one secret in the AWS peer: the first is AWSPREVIOUS, the second current. */
function seed() {
  const script = `
import boto3, json, os
client = boto3.client('secretsmanager', region_name='${region}', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
arn = client.create_secret(Name='e2e/admin/orders-db', SecretString=os.urandom(16).hex())['ARN']
first = client.describe_secret(SecretId=arn)['VersionIdsToStages']
second = client.put_secret_value(SecretId=arn, SecretString=os.urandom(16).hex())['VersionId']
print(json.dumps({'first': next(iter(first)), 'second': second}))
`;
  const seeded = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', script], { encoding: 'utf8' });
  assert.equal(seeded.status, 0, `seeding the AWS peer failed:\n${seeded.stderr}`);
  return JSON.parse(seeded.stdout);
}

async function signIn(user, password) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').waitFor();
  return page;
}

const labelsOf = (page, version) =>
  page.getByTestId('versions').locator(`tr[data-version="${version}"] .badge.label`).allInnerTexts();

before(async () => {
  versions = seed();
  server = await startServer({ TRAILKEEPER_REGIONS: region });
  const synced = await server.run(['sync', '--regions', region]);
  assert.equal(synced.code, 0, synced.stderr);
  browser = await launchBrowser();
  await mkdir(screenshots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('an admin rolls a secret back from its page, with a reason, and sees the labels move', async () => {
  const page = await signIn(server.admin.user, server.admin.password);
  await page.goto(`${server.url}/secrets/e2e/admin/orders-db`);
  await page.waitForLoadState('networkidle');
  const actions = page.getByTestId('secret-actions');
  await actions.waitFor();
  assert.deepEqual(await labelsOf(page, versions.second), ['AWSCURRENT']);

  // Without a reason AWS is not called.
  await actions.getByRole('button', { name: 'Roll back to the previous version' }).click();
  assert.match(await page.getByTestId('change-outcome').innerText(), /a reason is required/);

  await actions.getByLabel('Reason').fill('the new password broke the orders service');
  await actions.getByRole('button', { name: 'Roll back to the previous version' }).click();
  await page.getByTestId('change-outcome').filter({ hasText: 'rolled e2e/admin/orders-db back' }).waitFor();
  for (let attempt = 0; attempt < 50 && (await labelsOf(page, versions.first)).join() !== 'AWSCURRENT'; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(await labelsOf(page, versions.first), ['AWSCURRENT']);
  assert.deepEqual(await labelsOf(page, versions.second), ['AWSPREVIOUS']);
  await page.screenshot({ path: path.join(screenshots, 'secret-actions.png'), fullPage: true });

  await page.goto(`${server.url}/audit?action=secret.`);
  const log = page.getByTestId('audit-log');
  await log.waitFor();
  const text = await log.innerText();
  assert.match(text, /rolled e2e\/admin\/orders-db back to its previous version through AWS: the new password broke the orders service/);
  assert.match(text, /asked to roll e2e\/admin\/orders-db back/);
});

test('an auditor sees the secret but no Actions', async () => {
  const added = await server.run(['user', 'add', 'audrey', '--role', 'auditor', '--password-stdin'], 'an auditor password 123\n');
  assert.equal(added.code, 0, added.stderr);
  const page = await signIn('audrey', 'an auditor password 123');
  await page.goto(`${server.url}/secrets/e2e/admin/orders-db`);
  await page.getByTestId('secret-name').waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(await page.getByTestId('secret-actions').count(), 0);
});
