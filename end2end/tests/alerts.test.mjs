// Alerts in a real browser: an admin adds a webhook channel to a receiver this test runs,
// sends a test message signed with the key shown once, sees a finding that `trailkeeper
// ingest` makes in another process arrive at the receiver, reads the delivery log and
// disables the channel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser, repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
const account = '123456789012';
let server;
let browser;
let page;
let receiver;
const received = [];
const problems = [];

before(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.end('ok');
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  server = await startServer({ TRAILKEEPER_REGIONS: 'us-east-1' });
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
  receiver?.close();
});

function verifies(key, header, body) {
  const fields = Object.fromEntries(header.split(',').map((part) => part.split('=')));
  const expected = createHmac('sha256', key).update(`${fields.t}.${body}`).digest();
  const given = Buffer.from(fields.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function until(check, what) {
  for (let i = 0; i < 100; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('an admin adds a webhook channel, tests it, and findings arrive signed', async () => {
  await page.goto(`${server.url}/alerts`);
  const form = page.getByTestId('new-channel');
  await form.waitFor();
  await page.waitForLoadState('networkidle'); // hydrated: the form is the app's
  await form.getByLabel('Kind').selectOption('webhook');
  await form.getByLabel('Name').fill('e2e receiver');
  await form.getByLabel('Settings (JSON)').fill('{"url": "not a url"}');
  await form.getByRole('button', { name: 'Add channel' }).click();
  assert.match(await page.getByTestId('channel-outcome').innerText(), /not a URL/);

  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  await form.getByLabel('Settings (JSON)').fill(JSON.stringify({ url, headers: { 'X-Team': 'secops' } }));
  await form.getByLabel('Send findings from').selectOption('high');
  await form.getByRole('button', { name: 'Add channel' }).click();
  const outcome = page.getByTestId('channel-outcome');
  await outcome.filter({ hasText: 'shown only this once' }).waitFor();
  const key = (await outcome.innerText()).match(/(whsec_\S+)/)[1];
  const row = page.getByTestId('channel-row').filter({ hasText: 'e2e receiver' });
  await row.waitFor();
  assert.match(await row.innerText(), /headers, signing_key \(saved, never shown\)/);
  assert.ok(!(await page.getByTestId('channels').innerText()).includes(key), 'the channel never shows its key');
  await page.getByTestId('alert-rules').getByText('high and up').waitFor();

  await row.getByRole('button', { name: 'Send test' }).click();
  await page.getByTestId('test-outcome').filter({ hasText: 'Test message delivered.' }).waitFor();
  assert.equal(received.length, 1);
  assert.equal(received[0].headers['x-team'], 'secops');
  assert.ok(verifies(key, received[0].headers['trailkeeper-signature'], received[0].body));
  assert.equal(JSON.parse(received[0].body).type, 'test');

  // Another process makes a critical finding; the server's worker sends it.
  const record = {
    eventVersion: '1.09', eventID: 'a2e-1', eventTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    eventSource: 'secretsmanager.amazonaws.com', eventName: 'DeleteSecret', awsRegion: 'us-east-1',
    recipientAccountId: account, eventType: 'AwsApiCall',
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${account}:user/bob`, accountId: account, userName: 'bob' },
    sourceIPAddress: '203.0.113.11', userAgent: 'aws-cli/2.17.12',
    requestParameters: { secretId: `arn:aws:secretsmanager:us-east-1:${account}:secret:e2e/alerts/db-AbCdEf`, forceDeleteWithoutRecovery: true },
  };
  const scratch = await mkdtemp(path.join(tmpdir(), 'trailkeeper-alerts-'));
  const file = path.join(scratch, 'incident.jsonl');
  await writeFile(file, JSON.stringify(record));
  const ingested = await server.run(['ingest', file]);
  assert.equal(ingested.code, 0, ingested.stderr);
  await until(() => received.length === 2, 'the finding to arrive');
  assert.ok(verifies(key, received[1].headers['trailkeeper-signature'], received[1].body));
  const alert = JSON.parse(received[1].body);
  assert.equal(alert.type, 'alert');
  assert.equal(alert.alerts[0].severity, 'critical');
  assert.equal(alert.alerts[0].secret.name, 'e2e/alerts/db');

  await page.reload();
  const deliveries = page.getByTestId('delivery-row');
  await deliveries.nth(1).waitFor();
  assert.match(await deliveries.nth(0).innerText(), /alert\s+delivered/);
  assert.match(await deliveries.nth(0).innerText(), new RegExp(alert.delivery_id));
  assert.match(await deliveries.nth(1).innerText(), /test\s+delivered/);
  await page.screenshot({ path: path.join(screenshots, 'alerts.png'), fullPage: true });

  // The delivery log filtered to the finding: only its alert, and the URL keeps the filter.
  const filters = page.getByTestId('delivery-filters');
  await filters.getByLabel('Status').selectOption('delivered');
  await filters.getByLabel('Finding').fill(String(alert.alerts[0].finding_id));
  await filters.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/finding=/);
  await page.getByTestId('delivery-row').first().waitFor();
  assert.equal(await page.getByTestId('delivery-row').count(), 1);
  assert.match(await page.getByTestId('delivery-row').innerText(), new RegExp(alert.delivery_id));
  assert.equal(await page.getByTestId('delivery-filters').getByLabel('Status').inputValue(), 'delivered');
  await page.goto(`${server.url}/alerts?since=yesterday`);
  await page.getByText(/since="yesterday" is not valid/).waitFor();

  // Edit the channel: a new name and new headers; the saved signing key stays.
  await page.goto(`${server.url}/alerts`);
  await page.waitForLoadState('networkidle');
  await page.getByTestId('channel-row').filter({ hasText: 'e2e receiver' })
    .getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByTestId('edit-channel');
  assert.equal(await edit.getByLabel('Name').inputValue(), 'e2e receiver');
  assert.deepEqual(JSON.parse(await edit.getByLabel('Settings (JSON)').inputValue()), { url });
  await edit.getByLabel('Name').fill('e2e secops receiver');
  await edit.getByLabel('Settings (JSON)').fill('{"url": "ftp://nowhere"}');
  await edit.getByRole('button', { name: 'Save channel' }).click();
  assert.match(await page.getByTestId('change-outcome').innerText(), /http or https/);
  await edit.getByLabel('Settings (JSON)').fill(JSON.stringify({ url, headers: { 'X-Team': 'platform' } }));
  await edit.getByRole('button', { name: 'Save channel' }).click();
  await page.getByTestId('change-outcome').filter({ hasText: 'Channel saved.' }).waitFor();
  await edit.waitFor({ state: 'detached' });
  const renamed = page.getByTestId('channel-row').filter({ hasText: 'e2e secops receiver' });
  await renamed.getByRole('button', { name: 'Send test' }).click();
  await until(() => received.length === 3, 'the edited channel\'s test');
  assert.equal(received[2].headers['x-team'], 'platform');
  assert.ok(verifies(key, received[2].headers['trailkeeper-signature'], received[2].body), 'the key stayed');

  await page.waitForLoadState('networkidle');
  await renamed.getByRole('button', { name: 'Disable' }).click();
  await page.getByTestId('channel-state').filter({ hasText: 'disabled' }).waitFor();

  // A digest rule for two kinds of findings on tagged prod secrets, then removed.
  await page.waitForLoadState('networkidle');
  const ruleForm = page.getByTestId('new-alert-rule');
  await ruleForm.getByLabel('Severity and up').selectOption('medium');
  await ruleForm.getByLabel('secret deleted').check();
  await ruleForm.getByLabel('rotation failed').check();
  await ruleForm.getByLabel('Secret pattern').fill('prod/*');
  await ruleForm.getByLabel('Secret tag').fill('team=payments');
  await ruleForm.getByLabel('Digest every (minutes)').fill('60');
  await ruleForm.getByRole('button', { name: 'Add rule' }).click();
  assert.match(await page.getByTestId('rule-add-outcome').innerText(), /at least one channel/);
  assert.equal(await ruleForm.getByLabel('Secret tag').inputValue(), 'team=payments', 'a refusal keeps what was typed');
  await ruleForm.getByTestId('rule-channels').getByLabel('e2e secops receiver').check();
  await ruleForm.getByRole('button', { name: 'Add rule' }).click();
  await page.getByTestId('rule-add-outcome').filter({ hasText: 'Rule added.' }).waitFor();
  const digestRule = page.getByTestId('rule-row').filter({ hasText: 'digest every 60 min' });
  await digestRule.waitFor();
  assert.match(
    await digestRule.innerText(),
    /medium and up\s+rotation failed, secret deleted; secret prod\/\*; tag team=payments\s+e2e secops receiver/i,
  );
  assert.equal(await ruleForm.getByLabel('Secret tag').inputValue(), '', 'the form is cleared for the next rule');
  await page.waitForLoadState('networkidle');
  await digestRule.getByRole('button', { name: 'Remove' }).click();
  await page.getByTestId('rule-remove-outcome').filter({ hasText: 'Rule removed.' }).waitFor();
  await digestRule.waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('rule-row').count(), 1);
  assert.deepEqual(problems, []);
});
