// On a phone (390 px wide): the navigation folds into a menu that opens and closes, the
// sign-out button stays on screen, and no page scrolls sideways — wide tables scroll inside
// their card. Screenshots of the Overview, the Secrets list and a finding at phone size.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser, repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
const PHONE = { width: 390, height: 844 };
const account = '123456789012';
let server;
let browser;
let page;
const problems = [];

before(async () => {
  server = await startServer({ TRAILKEEPER_REGIONS: 'us-east-1' });
  // A secret deleted without recovery: a critical finding to open.
  const record = {
    eventVersion: '1.09',
    eventID: 'phone-1',
    eventTime: new Date(Date.now() - 10 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    eventSource: 'secretsmanager.amazonaws.com',
    eventName: 'DeleteSecret',
    awsRegion: 'us-east-1',
    recipientAccountId: account,
    eventType: 'AwsApiCall',
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${account}:user/bob`, accountId: account, userName: 'bob' },
    sourceIPAddress: '203.0.113.11',
    userAgent: 'aws-cli/2.17.12',
    requestParameters: {
      secretId: `arn:aws:secretsmanager:us-east-1:${account}:secret:e2e/phone/old-token-AbCdEf`,
      forceDeleteWithoutRecovery: true,
    },
  };
  const scratch = await mkdtemp(path.join(tmpdir(), 'trailkeeper-phone-'));
  const file = path.join(scratch, 'incident.jsonl');
  await writeFile(file, JSON.stringify(record));
  const ingested = await server.run(['ingest', file]);
  assert.equal(ingested.code, 0, ingested.stderr);
  // A secret in the AWS peer with a long name and tags, so the Secrets list has a wide row.
  const created = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', `
import boto3, os
boto3.client('secretsmanager', region_name='us-east-1', endpoint_url=os.environ['AWS_ENDPOINT_URL']).create_secret(
    Name='e2e/phone/a-rather-long-secret-name-for-a-small-screen-${Date.now()}',
    Description='Checks the list on a phone',
    Tags=[{'Key': 'team', 'Value': 'payments'}])
`], { encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  const synced = await server.run(['sync', '--regions', 'us-east-1']);
  assert.equal(synced.code, 0, synced.stderr);

  browser = await launchBrowser();
  await mkdir(screenshots, { recursive: true });
  const context = await browser.newContext({ viewport: PHONE });
  page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${server.url}/login`);
  await page.getByLabel('User name').fill(server.admin.user);
  await page.getByLabel('Password').fill(server.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').waitFor({ state: 'attached' });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The page is no wider than the phone: nothing to scroll sideways. */
async function fitsThePhone(what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `${what} is ${width} px wide on a ${PHONE.width} px screen`);
}

test('the navigation opens from a menu, keeps sign-out on screen and closes on the next page', async () => {
  await page.goto(server.url);
  await page.waitForLoadState('networkidle'); // hydrated: the menu button is the app's
  const sections = page.getByRole('navigation', { name: 'Sections' });
  const menu = page.getByRole('button', { name: 'Menu' });
  assert.equal(await sections.isVisible(), false, 'the sections are folded away');
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');

  await menu.click();
  await sections.waitFor();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  const signOut = await page.getByRole('button', { name: 'Sign out' }).boundingBox();
  assert.ok(signOut && signOut.x >= 0 && signOut.x + signOut.width <= PHONE.width, `sign-out at ${JSON.stringify(signOut)}`);
  await page.screenshot({ path: path.join(screenshots, 'phone-menu.png') });

  await sections.getByRole('link', { name: 'Secrets' }).click();
  await page.waitForURL(/\/secrets$/);
  await sections.waitFor({ state: 'hidden' });
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
});

test('the Overview, the Secrets list and a finding fit a phone', async () => {
  await page.goto(server.url);
  await page.getByTestId('findings-by-severity').waitFor();
  await fitsThePhone('the Overview');
  await page.screenshot({ path: path.join(screenshots, 'phone-overview.png'), fullPage: true });

  await page.goto(`${server.url}/secrets?q=e2e%2Fphone`);
  await page.getByTestId('secrets').locator('tbody tr').first().waitFor();
  await fitsThePhone('the Secrets list');
  await page.screenshot({ path: path.join(screenshots, 'phone-secrets.png'), fullPage: true });

  await page.goto(`${server.url}/findings`);
  const rows = page.getByTestId('findings').locator('tbody tr');
  await rows.first().waitFor();
  await fitsThePhone('the findings queue');
  await rows.first().getByTestId('finding-link').click();
  await page.waitForURL(/\/findings\/\d+$/);
  await page.getByTestId('finding-explanation').waitFor();
  await fitsThePhone('a finding');
  await page.screenshot({ path: path.join(screenshots, 'phone-finding.png'), fullPage: true });
  assert.deepEqual(problems, []);
});
