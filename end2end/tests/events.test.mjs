// The events explorer in a real browser: a secret made in the AWS API peer and synced,
// CloudTrail records about it ingested by the real binary, then filtered by secret and
// principal, one opened, the filter exported as CSV, the secret's Access section and
// changes read, a rotated secret's Rotation impact, and who can read a secret.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser, repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
const secretName = 'e2e/events/orders-db';
const reader = 'arn:aws:iam::123456789012:role/orders-api';
const intruder = 'arn:aws:iam::123456789012:user/mallory';
const rotatedName = 'e2e/rotated/ledger-db';
const staleReader = 'arn:aws:iam::123456789012:role/ledger-report';
let server;
let browser;
let page;
let secretArn;
let rotatedArn;
const problems = [];

/** Makes a secret in the AWS peer (through boto3 in the repo's venv); returns its ARN. */
function createSecret(name) {
  const script = `
import boto3, sys
client = boto3.client("secretsmanager", region_name="us-east-1")
try:
    print(client.create_secret(Name=sys.argv[1], SecretString="x")["ARN"])
except client.exceptions.ResourceExistsException:
    print(client.describe_secret(SecretId=sys.argv[1])["ARN"])
`;
  const made = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', script, name], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(made.status, 0, `creating the secret failed:\n${made.stderr}`);
  return made.stdout.trim();
}

/** Makes an IAM role in the AWS peer allowed to read the secrets under `prefix`. */
function grantRole(name, prefix) {
  const script = `
import boto3, json, sys
iam = boto3.client("iam", region_name="us-east-1")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
try:
    iam.create_role(RoleName=sys.argv[1], AssumeRolePolicyDocument=json.dumps(trust))
except iam.exceptions.EntityAlreadyExistsException:
    pass
iam.put_role_policy(RoleName=sys.argv[1], PolicyName="orders", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Sid": "ReadOrders", "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "arn:aws:secretsmanager:*:*:secret:" + sys.argv[2] + "*"}]}))
`;
  const made = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', script, name, prefix], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(made.status, 0, `granting the role failed:\n${made.stderr}`);
}

/** A CloudTrail record about the secret (`arn`, by default the first), `minutesAgo` before now. */
function record(id, minutesAgo, fields, arn = secretArn) {
  return {
    eventVersion: '1.09',
    eventID: id,
    eventTime: new Date(Date.now() - minutesAgo * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    eventSource: 'secretsmanager.amazonaws.com',
    awsRegion: 'us-east-1',
    recipientAccountId: '123456789012',
    eventType: 'AwsApiCall',
    requestParameters: { secretId: arn },
    ...fields,
  };
}

/** A rotation of the second secret 100 minutes ago, and its two consumers' reads around it:
 * the orders role moves on, the report role keeps asking for AWSPREVIOUS. */
function rotationRecords(role) {
  const report = { ...role, arn: 'arn:aws:sts::123456789012:assumed-role/ledger-report/nightly',
    sessionContext: { sessionIssuer: { type: 'Role', arn: staleReader, accountId: '123456789012' } } };
  const service = { type: 'AWSService', invokedBy: 'secretsmanager.amazonaws.com' };
  const read = (id, minutesAgo, who, parameters = {}) => record(id, minutesAgo, {
    eventName: 'GetSecretValue', readOnly: true, userIdentity: who, sourceIPAddress: '10.0.1.5',
    requestParameters: { secretId: rotatedArn, ...parameters } }, rotatedArn);
  const event = (id, minutesAgo, name, fields = {}) => record(id, minutesAgo, {
    eventName: name, eventType: 'AwsServiceEvent', userIdentity: service, readOnly: false,
    sourceIPAddress: 'secretsmanager.amazonaws.com', ...fields }, rotatedArn);
  return [
    read('e2e-r1', 130, role),
    read('e2e-r2', 125, report),
    event('e2e-r3', 100, 'RotationStarted'),
    event('e2e-r4', 99, 'UpdateSecretVersionStage', { requestParameters: { secretId: rotatedArn,
      versionStage: 'AWSCURRENT', moveToVersionId: 'v2', removeFromVersionId: 'v1' } }),
    event('e2e-r5', 98, 'RotationSucceeded'),
    read('e2e-r6', 60, report, { versionStage: 'AWSPREVIOUS' }),
    read('e2e-r7', 50, report, { versionStage: 'AWSPREVIOUS' }),
    read('e2e-r8', 40, role),
  ];
}

before(async () => {
  secretArn = createSecret(secretName);
  rotatedArn = createSecret(rotatedName);
  // The reader is granted what it reads; a retired job is granted it too and never reads.
  grantRole('orders-api', 'e2e/events/');
  grantRole('orders-legacy', 'e2e/events/');
  server = await startServer({ TRAILKEEPER_REGIONS: 'us-east-1' });
  const synced = await server.run(['sync', '--regions', 'us-east-1']);
  assert.equal(synced.code, 0, synced.stderr);

  const role = { type: 'AssumedRole', arn: 'arn:aws:sts::123456789012:assumed-role/orders-api/task-1', accountId: '123456789012',
    sessionContext: { sessionIssuer: { type: 'Role', arn: reader, accountId: '123456789012' } } };
  const records = [
    record('e2e-1', 50, { eventName: 'GetSecretValue', readOnly: true, userIdentity: role, sourceIPAddress: '10.0.1.5', userAgent: 'aws-sdk-java/2.25.11' }),
    record('e2e-2', 40, { eventName: 'GetSecretValue', readOnly: true, userIdentity: role, sourceIPAddress: '10.0.1.5', userAgent: 'aws-sdk-java/2.25.11' }),
    record('e2e-3', 30, { eventName: 'DescribeSecret', readOnly: true, userIdentity: role, sourceIPAddress: '10.0.1.6', userAgent: 'aws-sdk-java/2.25.11' }),
    record('e2e-4', 20, { eventName: 'GetSecretValue', readOnly: true, userIdentity: { type: 'IAMUser', arn: intruder, accountId: '123456789012' },
      sourceIPAddress: '203.0.113.9', userAgent: 'aws-cli/2.15.0', errorCode: 'AccessDenied', errorMessage: 'not authorized' }),
    record('e2e-5', 10, { eventName: 'PutSecretValue', readOnly: false, userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/ops', accountId: '123456789012' },
      sourceIPAddress: '198.51.100.7', userAgent: 'aws-cli/2.15.0' }),
  ];
  const scratch = await mkdtemp(path.join(tmpdir(), 'trailkeeper-events-'));
  const file = path.join(scratch, 'events.jsonl');
  await writeFile(file, records.map((item) => JSON.stringify(item)).join('\n'));
  const ingested = await server.run(['ingest', file]);
  assert.equal(ingested.code, 0, ingested.stderr);
  assert.match(ingested.stdout, /5 new/);
  const rotated = path.join(scratch, 'rotation.jsonl');
  await writeFile(rotated, rotationRecords(role).map((item) => JSON.stringify(item)).join('\n'));
  const ingestedRotation = await server.run(['ingest', rotated]);
  assert.equal(ingestedRotation.code, 0, ingestedRotation.stderr);
  assert.match(ingestedRotation.stdout, /8 new/);

  browser = await launchBrowser();
  await mkdir(screenshots, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${server.url}/login`);
  await page.getByLabel('User name').fill(server.admin.user);
  await page.getByLabel('Password').fill(server.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').waitFor();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const rows = () => page.getByTestId('events').locator('tbody tr');

test('events filter by secret and principal, and one opens with its record', async () => {
  await page.goto(`${server.url}/events`);
  await page.getByTestId('event-histogram').waitFor();
  await page.getByLabel('Secret').fill(secretName);
  await page.getByLabel('Principal').fill('orders-api');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/principal=orders-api/);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('secret'), secretName);
  const ids = await rows().evaluateAll((trs) => trs.map((tr) => tr.dataset.eventId));
  assert.deepEqual(ids, ['e2e-3', 'e2e-2', 'e2e-1'], 'newest first, only the role\'s events');
  await page.screenshot({ path: path.join(screenshots, 'events.png'), fullPage: true });

  await rows().first().getByTestId('event-link').click();
  await page.waitForURL(/\/events\/e2e-3$/);
  const recordText = await page.getByTestId('event-record').innerText();
  assert.equal(JSON.parse(recordText).eventName, 'DescribeSecret');
  assert.match(await page.getByTestId('event-facts').innerText(), /10\.0\.1\.6/);
});

test('the current filter exports as CSV', async () => {
  await page.goto(`${server.url}/events?secret=${encodeURIComponent(secretName)}&error_code=any`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('export-csv').click(),
  ]);
  const csv = await readFile(await download.path(), 'utf8');
  const lines = csv.trim().split('\n');
  assert.match(lines[0], /^event_time,event_id,event_name/);
  assert.equal(lines.length, 2, csv);
  assert.match(lines[1], /e2e-4,GetSecretValue/);
  assert.match(lines[1], /AccessDenied/);
});

test("the secret's Access section lists who used it, with the denied reader", async () => {
  await page.goto(`${server.url}/secrets/${secretArn}`);
  const table = page.getByTestId('access-principals');
  await table.waitFor();
  const principals = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.principal));
  assert.deepEqual(new Set(principals), new Set([reader, intruder, 'arn:aws:iam::123456789012:user/ops']));
  const intruderRow = await table.locator(`tr[data-principal="${intruder}"]`).innerText();
  assert.match(intruderRow, /203\.0\.113\.9/);
  assert.equal(principals[0], reader, 'the busiest first');

  // The new value the ops user put is in the secret's changes, with who did it.
  const change = page.getByTestId('label-history').locator('tr[data-event="PutSecretValue"]');
  assert.match(await change.innerText(), /ops/);
  assert.equal(await change.locator('[data-actor]').getAttribute('data-actor'), 'arn:aws:iam::123456789012:user/ops');
  assert.deepEqual(problems, []);
});

test("a rotated secret's Rotation impact shows the consumer still reading the old version", async () => {
  await page.goto(`${server.url}/secrets/${rotatedArn}`);
  const consumers = page.getByTestId('rotation-consumers');
  await consumers.waitFor();
  assert.match(await page.getByTestId('rotation-summary').innerText(), /1 of 2 consumers need a look/);
  const stale = consumers.locator(`tr[data-principal="${staleReader}"]`);
  assert.equal(await stale.getByTestId('consumer-verdict').innerText(), 'reads the old version');
  const moved = consumers.locator(`tr[data-principal="${reader}"]`);
  assert.equal(await moved.getByTestId('consumer-verdict').innerText(), 'moved on');
  assert.equal(await consumers.locator('tbody tr').first().getAttribute('data-principal'), staleReader,
    'the consumer needing a look first');

  // Its name opens its reads of the secret around the rotation in the explorer.
  await stale.getByRole('link').click();
  await page.waitForURL(/\/events\?/);
  const ids = await rows().evaluateAll((trs) => trs.map((tr) => tr.dataset.eventId));
  assert.deepEqual(ids, ['e2e-r7', 'e2e-r6', 'e2e-r2']);
  assert.deepEqual(problems, []);
});

test('Who can read lists the unused grant first, and its principal page the reverse', async () => {
  await page.goto(`${server.url}/secrets/${secretArn}`);
  const grants = page.getByTestId('who-can-read').getByTestId('grants');
  await grants.waitFor();
  const legacy = 'arn:aws:iam::123456789012:role/orders-legacy';
  const first = grants.locator('tbody tr').first();
  assert.equal(await first.getAttribute('data-principal'), legacy, 'the unused grant first');
  assert.equal(await first.getByTestId('unused-grant').innerText(), 'unused for 90 days');
  assert.match(await first.getByTestId('narrowing').innerText(),
    /To narrow: remove this secret from statement "ReadOrders" of inline policy orders of role orders-legacy/);
  const used = grants.locator(`tr[data-principal="${reader}"]`);
  assert.equal(await used.getByTestId('unused-grant').count(), 0);
  assert.match(await used.locator('td').nth(3).innerText(), /^2$/);

  await first.getByRole('link', { name: 'orders-legacy' }).click();
  await page.waitForURL(/\/principals\//);
  assert.equal(await page.getByTestId('principal-arn').innerText(), legacy);
  const secrets = page.getByTestId('can-read').locator(`tr[data-secret="${secretArn}"]`);
  assert.match(await secrets.innerText(), /e2e\/events\/orders-db/);
  assert.equal(await secrets.getByTestId('unused-grant').count(), 1);
  await page.screenshot({ path: path.join(screenshots, 'principal.png'), fullPage: true });
  assert.deepEqual(problems, []);
});
