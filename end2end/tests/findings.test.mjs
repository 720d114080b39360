// Findings in a real browser: incidents in CloudTrail ingested by the real binary become
// findings on the Overview and in the queue; one is opened, read with its evidence, and
// triaged; detection's settings are changed, and a bad value is refused by name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser, repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
const account = '123456789012';
const bob = `arn:aws:iam::${account}:user/bob`;
const carol = `arn:aws:iam::${account}:user/carol`;
let server;
let browser;
let page;
const problems = [];

function record(id, minutesAgo, name, secret, request, who = bob) {
  return {
    eventVersion: '1.09',
    eventID: id,
    eventTime: new Date(Date.now() - minutesAgo * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    eventSource: 'secretsmanager.amazonaws.com',
    eventName: name,
    awsRegion: 'us-east-1',
    recipientAccountId: account,
    eventType: 'AwsApiCall',
    userIdentity: { type: 'IAMUser', arn: who, accountId: account, userName: who.split('/').pop() },
    sourceIPAddress: '203.0.113.11',
    userAgent: 'aws-cli/2.17.12',
    requestParameters: { secretId: `arn:aws:secretsmanager:us-east-1:${account}:secret:${secret}-AbCdEf`, ...request },
  };
}

before(async () => {
  // The account's trail logs every management event in us-east-1, so the sync at start finds
  // no blind spot there (the peer has no trail unless one is made): the findings below are
  // the incidents' alone.
  const trail = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', `
import boto3
s3 = boto3.client('s3', region_name='us-east-1')
s3.create_bucket(Bucket='e2e-findings-trail')
cloudtrail = boto3.client('cloudtrail', region_name='us-east-1')
try:
    cloudtrail.create_trail(Name='e2e-findings', S3BucketName='e2e-findings-trail')
except cloudtrail.exceptions.TrailAlreadyExistsException:
    pass
cloudtrail.start_logging(Name='e2e-findings')
`], { encoding: 'utf8' });
  assert.equal(trail.status, 0, `the AWS peer refused:\n${trail.stderr}`);
  server = await startServer({ TRAILKEEPER_REGIONS: 'us-east-1' });
  const records = [
    record('f2e-1', 30, 'DeleteSecret', 'e2e/findings/old-token', { forceDeleteWithoutRecovery: true }),
    record('f2e-2', 20, 'PutResourcePolicy', 'e2e/findings/api-key', {
      resourcePolicy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue', Resource: '*' }] }),
    }),
    record('f2e-3', 10, 'CancelRotateSecret', 'e2e/findings/db', {}),
    // Carol's teardown: three secrets deleted in a minute, one incident.
    ...['queue', 'cache', 'mail'].map((name, n) => record(`f2e-t${n}`, 45 - n * 0.5, 'DeleteSecret',
      `e2e/teardown/${name}`, { forceDeleteWithoutRecovery: true }, carol)),
  ];
  const scratch = await mkdtemp(path.join(tmpdir(), 'trailkeeper-findings-'));
  const file = path.join(scratch, 'incidents.jsonl');
  await writeFile(file, records.map((item) => JSON.stringify(item)).join('\n'));
  const ingested = await server.run(['ingest', file]);
  assert.equal(ingested.code, 0, ingested.stderr);
  assert.match(ingested.stdout, /6 new/);

  browser = await launchBrowser();
  await mkdir(screenshots, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
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

test('the Overview opens with open findings by severity', async () => {
  await page.goto(server.url);
  const counts = page.getByTestId('findings-by-severity');
  await counts.waitFor();
  assert.equal(await counts.locator('[data-severity="critical"]').getAttribute('data-count'), '3');
  assert.equal(await counts.locator('[data-severity="medium"]').getAttribute('data-count'), '1');
  await page.screenshot({ path: path.join(screenshots, 'overview-findings.png'), fullPage: true });
});

test('the queue filters by severity and a finding opens with its evidence, then is triaged', async () => {
  await page.goto(`${server.url}/findings`);
  const rows = page.getByTestId('findings').locator('tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 4);
  await page.getByTestId('severity-counts').locator('[data-severity="critical"]').click();
  await page.waitForURL(/severity=critical/);
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.kind));
  assert.deepEqual(kinds, ['policy_opened', 'secret_deleted', 'secret_deleted'], 'most recent first, critical only');
  await page.screenshot({ path: path.join(screenshots, 'findings.png'), fullPage: true });

  await rows.first().getByTestId('finding-link').click();
  await page.waitForURL(/\/findings\/\d+$/);
  await page.waitForLoadState('networkidle'); // hydrated: triage is the page's island
  assert.match(await page.getByTestId('finding-explanation').innerText(), /lets anyone in/);
  const evidence = await page.getByTestId('events').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.eventId));
  assert.deepEqual(evidence, ['f2e-2']);
  const bars = page.getByTestId('event-histogram').locator('rect[data-count]');
  assert.ok(await bars.count() > 0, "the principal's activity has bars");

  await page.getByLabel('Comment or reason').fill('asked bob to revert it');
  await page.getByRole('button', { name: 'Acknowledge' }).click();
  const history = page.getByTestId('finding-history');
  await history.waitFor();
  assert.match(await history.innerText(), /acknowledged finding \d+ .*: asked bob to revert it/);
  assert.equal(await page.locator('[data-finding-status]').first().getAttribute('data-finding-status'), 'acknowledged');

  await page.getByLabel('Assign to').fill('nobody-here');
  await page.getByRole('button', { name: 'Assign' }).click();
  assert.match(await page.getByTestId('triage-refused').innerText(), /no active user named "nobody-here"/);
  await page.screenshot({ path: path.join(screenshots, 'finding.png'), fullPage: true });
});

test("a teardown deleting three secrets in a minute is one finding that lists them", async () => {
  await page.goto(`${server.url}/findings?principal=carol`);
  const rows = page.getByTestId('findings').locator('tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().innerText(), /Secret deleted: 3 secrets within a minute or two by carol/);
  assert.match(await rows.first().innerText(), /e2e\/teardown\/queue\s+and 2 more/);

  await rows.first().getByTestId('finding-link').click();
  await page.waitForURL(/\/findings\/\d+$/);
  assert.match(await page.getByTestId('finding-explanation').innerText(),
    /One incident: carol, 3 secrets .* e2e\/teardown\/queue, e2e\/teardown\/cache and e2e\/teardown\/mail/);
  const secrets = page.getByTestId('finding-secrets').locator('tbody tr');
  assert.deepEqual(await secrets.evaluateAll((trs) => trs.map((tr) => tr.cells[0].innerText)),
    ['e2e/teardown/queue', 'e2e/teardown/cache', 'e2e/teardown/mail']);
  assert.equal(await page.getByTestId('finding-count').innerText(), '3');
  const evidence = await page.getByTestId('events').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.eventId));
  assert.deepEqual(evidence, ['f2e-t0', 'f2e-t1', 'f2e-t2']);
  await page.screenshot({ path: path.join(screenshots, 'finding-incident.png'), fullPage: true });
});

test('a suppression rule added on the queue hides the findings it matches, and is removable', async () => {
  await page.goto(`${server.url}/findings`);
  const rows = page.getByTestId('findings').locator('tbody tr');
  await rows.first().waitFor();
  await page.waitForLoadState('networkidle'); // hydrated: the rules are the page's island
  const form = page.getByTestId('new-suppression');
  await form.getByLabel('Kind').selectOption('rotation_cancelled');
  await form.getByLabel('Principal pattern').fill('*:user/bob');
  await form.getByLabel('Secret pattern').fill('e2e/findings/*');
  await form.getByLabel('Reason').fill('bob is migrating rotation to the new Lambda');
  await form.getByRole('button', { name: 'Add rule' }).click();
  assert.match(await page.getByTestId('rule-refused').innerText(), /a date it lasts until/);

  const inAMonth = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  await form.getByLabel('Until').fill(inAMonth);
  await form.getByRole('button', { name: 'Add rule' }).click();
  await page.getByTestId('rule-added').waitFor();
  const rule = page.getByTestId('suppressions').locator('tbody tr');
  await rule.first().waitFor();
  assert.match(await rule.first().innerText(), /\*:user\/bob/);

  await page.reload();
  await rows.first().waitFor();
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.kind));
  assert.ok(!kinds.includes('rotation_cancelled'), `the suppressed finding left the queue: ${kinds}`);
  await page.goto(`${server.url}/findings?status=suppressed`);
  await rows.first().waitFor();
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.kind)), ['rotation_cancelled']);
  await page.waitForLoadState('networkidle');

  await page.getByTestId('suppressions').getByRole('button', { name: 'Remove' }).click();
  await page.getByTestId('suppressions').getByText('None in force.').waitFor();

  // The rule's audit entry names who added it and from where.
  await page.goto(`${server.url}/audit?action=suppression.added`);
  const entry = page.getByTestId('audit-log').locator('tbody tr').first();
  await entry.waitFor();
  assert.match(await entry.innerText(), /127\.0\.0\.1/);
});

test('admins change detection settings, and a bad value is refused by name', async () => {
  await page.goto(`${server.url}/settings`);
  const form = page.getByTestId('detection-settings');
  await form.waitFor();
  await page.waitForLoadState('networkidle'); // hydrated: the form is the page's island
  await page.getByLabel('Bulk: distinct secrets').fill('30');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByTestId('settings-saved').waitFor();
  await page.reload();
  await form.waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(await page.getByLabel('Bulk: distinct secrets').inputValue(), '30');

  // A preview runs detection over the stored events with the values in the form, beside the
  // stored settings, and saves nothing.
  await page.getByLabel('Bulk: distinct secrets').fill('2');
  await page.getByRole('button', { name: 'Preview' }).click();
  const preview = page.getByTestId('settings-preview');
  await preview.waitFor();
  assert.match(await preview.innerText(), /Detection over the \d+ events since .*nothing was saved/);
  assert.equal(await page.getByTestId('preview-added').innerText(), 'Nothing.');
  assert.equal(await page.getByTestId('preview-dropped').innerText(), 'Nothing.');
  await page.reload();
  await form.waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(await page.getByLabel('Bulk: distinct secrets').inputValue(), '30');

  await page.getByLabel('Denied burst: refusals').fill('0');
  await page.getByRole('button', { name: 'Preview' }).click();
  assert.match(await page.getByTestId('preview-refused').innerText(), /denied_reads must be at least 1/);
  await page.getByRole('button', { name: 'Save' }).click();
  assert.match(await page.getByTestId('settings-refused').innerText(), /denied_reads must be at least 1/);
  assert.deepEqual(problems, []);
});
