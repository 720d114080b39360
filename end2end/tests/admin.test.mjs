// Administration in a real browser: an admin rolls a secret back from its page, with a
// reason, and sees the labels move at once; the audit log names them; an auditor sees no
// Actions at all.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { launchBrowser, repoRoot, signedIn, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
// A region of its own in the AWS peer the suites share.
const region = 'ca-west-1';
let server;
let browser;
let versions;

/**
 * Two versions of one secret in the AWS peer (the first is AWSPREVIOUS, the second current),
 * and a rotation function for it.
 */
function seed() {
  const script = `
import boto3, json, os
client = boto3.client('secretsmanager', region_name='${region}', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
arn = client.create_secret(Name='e2e/admin/orders-db', SecretString=os.urandom(16).hex())['ARN']
first = client.describe_secret(SecretId=arn)['VersionIdsToStages']
second = client.put_secret_value(SecretId=arn, SecretString=os.urandom(16).hex())['VersionId']
for name in ('e2e/admin/bulk-a', 'e2e/admin/bulk-b'):
    client.create_secret(Name=name, SecretString=os.urandom(16).hex())
role = boto3.client('iam', region_name='${region}', endpoint_url=os.environ['AWS_ENDPOINT_URL']).create_role(
    RoleName='e2e-rotation', AssumeRolePolicyDocument='{}')['Role']['Arn']
function = boto3.client('lambda', region_name='${region}', endpoint_url=os.environ['AWS_ENDPOINT_URL']).create_function(
    FunctionName='e2e-rotation', Role=role, PackageType='Image',
    Code={'ImageUri': '123456789012.dkr.ecr.${region}.amazonaws.com/e2e-rotation:1'})['FunctionArn']
print(json.dumps({'arn': arn, 'first': next(iter(first)), 'second': second, 'function': function}))
`;
  const seeded = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', script], { encoding: 'utf8' });
  assert.equal(seeded.status, 0, `seeding the AWS peer failed:\n${seeded.stderr}`);
  return JSON.parse(seeded.stdout);
}

const signIn = (user, password) => signedIn(browser, server.url, user, password);

/** Opens one of the Actions' sections (a `<details>`), however it was left. */
const open = (page, section) => page.getByTestId(section).evaluate((details) => { details.open = true; });

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
  const labels = actions.getByTestId('labels-form');
  await labels.getByRole('button', { name: 'Roll back to the previous version' }).click();
  assert.match(await page.getByTestId('change-outcome').innerText(), /a reason is required/);

  await labels.getByLabel('Reason').fill('the new password broke the orders service');
  await labels.getByRole('button', { name: 'Roll back to the previous version' }).click();
  await page.getByTestId('change-outcome').filter({ hasText: 'rolled e2e/admin/orders-db back' }).waitFor();
  for (let attempt = 0; attempt < 50 && (await labelsOf(page, versions.first)).join() !== 'AWSCURRENT'; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(await labelsOf(page, versions.first), ['AWSCURRENT']);
  assert.deepEqual(await labelsOf(page, versions.second), ['AWSPREVIOUS']);
  await page.screenshot({ path: path.join(screenshots, 'secret-actions.png'), fullPage: true });

  // CloudTrail records the call under Trailkeeper's own role; once that event arrives, the
  // timeline names the person and the reason.
  const trail = path.join(screenshots, 'rollback-trail.json');
  await writeFile(trail, JSON.stringify({ Records: [{
    eventVersion: '1.09',
    userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::123456789012:assumed-role/trailkeeper/i-0e2e', accountId: '123456789012' },
    eventTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    eventSource: 'secretsmanager.amazonaws.com', eventName: 'UpdateSecretVersionStage',
    awsRegion: region, sourceIPAddress: '198.51.100.7', userAgent: 'aws-sdk-rust',
    requestParameters: { secretId: versions.arn, versionStage: 'AWSCURRENT',
      moveToVersionId: versions.first, removeFromVersionId: versions.second },
    responseElements: null, requestID: 'e2e-unknown-request', eventID: 'e2e-rollback-event',
    eventType: 'AwsApiCall', recipientAccountId: '123456789012',
  }] }));
  const ingested = await server.run(['ingest', trail]);
  assert.equal(ingested.code, 0, ingested.stderr);
  await page.reload();
  const through = page.getByTestId('through-trailkeeper').first();
  await through.waitFor();
  assert.match(await through.innerText(), /made by admin through Trailkeeper: the new password broke the orders service/);

  await page.goto(`${server.url}/audit?action=secret.`);
  const log = page.getByTestId('audit-log');
  await log.waitFor();
  const text = await log.innerText();
  assert.match(text, /rolled e2e\/admin\/orders-db back to its previous version through AWS: the new password broke the orders service/);
  assert.match(text, /asked to roll e2e\/admin\/orders-db back/);
});

test('an admin tags the secret and turning its rotation off asks for its name', async () => {
  const page = await signIn(server.admin.user, server.admin.password);
  await page.goto(`${server.url}/secrets/e2e/admin/orders-db`);
  await page.waitForLoadState('networkidle');
  const actions = page.getByTestId('secret-actions');
  await open(page, 'label-actions');
  const tags = actions.getByTestId('tags-form');
  await tags.getByLabel('Tags to set').fill('team=orders\nowner=ada');
  await tags.getByLabel('Reason').fill('the orders team owns it now');
  await tags.getByRole('button', { name: 'Save tags' }).click();
  await page.getByTestId('change-outcome').filter({ hasText: 'set tags owner=ada, team=orders' }).waitFor();
  const shown = page.getByTestId('secret-tags');
  await shown.filter({ hasText: 'orders' }).waitFor();
  assert.match(await shown.innerText(), /owner\s+ada/);

  await open(page, 'rotation-actions');
  const rotation = actions.getByTestId('rotation-form');
  await rotation.getByLabel('Schedule').fill('rate(45 days)');
  await rotation.getByLabel('Rotation function ARN').fill(versions.function);
  await rotation.getByLabel('Reason').fill('rotate the orders login every 45 days');
  await rotation.getByRole('button', { name: 'Turn rotation on' }).click();
  await page.getByTestId('change-outcome').filter({ hasText: 'to rotate every 45 days' }).waitFor();

  // The page is read afresh after the change; the form to turn rotation off comes with it.
  const off = page.getByTestId('rotation-off-form');
  await off.waitFor({ state: 'attached' });
  await open(page, 'rotation-actions');
  await off.getByLabel('Reason').fill('the orders service is retired');
  await off.getByRole('button', { name: 'Turn rotation off' }).click();
  // Turning rotation off takes protection away: the answer asks for the name, saying why.
  await page
    .getByTestId('change-outcome')
    .filter({ hasText: "confirm by typing the secret's name, e2e/admin/orders-db: this will turn rotation off" })
    .waitFor();
  await off.getByLabel('Type e2e/admin/orders-db to confirm').fill('e2e/admin/orders-db');
  await off.getByRole('button', { name: 'Turn rotation off' }).click();
  await page.getByTestId('change-outcome').filter({ hasText: 'turned rotation off for e2e/admin/orders-db' }).waitFor();
});

test('an admin tags two secrets at once from the Secrets list and sees each outcome', async () => {
  const page = await signIn(server.admin.user, server.admin.password);
  await page.goto(`${server.url}/secrets`);
  await page.waitForLoadState('networkidle');
  for (const name of ['e2e/admin/bulk-a', 'e2e/admin/bulk-b']) {
    await page.getByLabel(`Select ${name}`).check();
  }
  await page.getByTestId('bulk-actions').evaluate((details) => { details.open = true; });
  const bulk = page.locator('#bulk-change');
  await bulk.getByLabel('Reason').fill('both belong to the payments team');
  await bulk.getByLabel('Tags to set').fill('team=payments');
  await bulk.getByRole('button', { name: 'Save tags on the selected' }).click();
  const outcomes = page.getByTestId('bulk-outcomes');
  await outcomes.waitFor();
  assert.equal(await outcomes.locator('li').count(), 2);
  assert.match(await outcomes.innerText(), /set tags team=payments on e2e\/admin\/bulk-a through AWS/);
  const row = page.getByTestId('secrets').locator('tr', { hasText: 'e2e/admin/bulk-b' });
  await row.filter({ hasText: 'team=payments' }).waitFor();
});

test('an auditor sees the secret but no Actions', async () => {
  const added = await server.run(['user', 'add', 'audrey', '--role', 'auditor', '--password-stdin'], 'an auditor password 123\n');
  assert.equal(added.code, 0, added.stderr);
  const page = await signIn('audrey', 'an auditor password 123');
  // Nothing to act on, so the page runs no code of its own in the browser: no island's wasm.
  const fetched = [];
  page.on('request', (request) => fetched.push(new URL(request.url()).pathname));
  await page.goto(`${server.url}/secrets/e2e/admin/orders-db`);
  await page.getByTestId('secret-name').waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(await page.getByTestId('secret-actions').count(), 0);
  assert.ok(fetched.some((file) => /^\/pkg\/trailkeeper\.[^/]+\.wasm$/.test(file)), 'the shared wasm loads');
  assert.deepEqual(fetched.filter((file) => file.startsWith('/pkg/split_')), []);
});
