// The inventory in a real browser: the demo estate seeded into the AWS API peer, synced by
// the real binary, filtered, sorted and paged on /secrets, and one secret opened in full.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { launchBrowser, repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
const regions = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];
let server;
let browser;
let page;
const problems = [];

before(async () => {
  const seeded = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['scripts/seed-demo.py'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(seeded.status, 0, `seeding the AWS peer failed:\n${seeded.stderr}`);
  server = await startServer({ TRAILKEEPER_REGIONS: regions.join(',') });
  const synced = await server.run(['sync', '--regions', regions.join(',')]);
  assert.equal(synced.code, 0, synced.stderr);
  browser = await launchBrowser();
  await mkdir(screenshots, { recursive: true });

  const context = await browser.newContext({ timezoneId: 'Europe/Berlin', viewport: { width: 1400, height: 1000 } });
  page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
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

const rows = () => page.getByTestId('secrets').locator('tbody tr');
const column = (index) => rows().locator(`td:nth-child(${index})`).allInnerTexts();
const arns = () => rows().evaluateAll((trs) => trs.map((tr) => tr.dataset.arn));

/** Polls `read` until `accept` holds for what it returns (navigation may still be rendering). */
async function settle(read, accept, what) {
  let value;
  for (let attempt = 0; attempt < 100; attempt += 1) {
    value = await read();
    if (accept(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${what}; last seen: ${JSON.stringify(value)}`);
}

test('the list filters by search and region, and the filters land in the URL', async () => {
  await page.goto(`${server.url}/secrets`);
  const matching = await page.getByTestId('secrets-matching').innerText();
  assert.ok(Number.parseInt(matching, 10) >= 60, matching);

  await page.getByLabel('Search').fill('team=payments');
  await page.getByLabel('Region').selectOption('eu-west-1');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/q=team%3Dpayments/);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('region'), 'eu-west-1');

  const names = await column(1);
  assert.ok(names.length > 0, 'some payments secrets are in eu-west-1');
  assert.deepEqual(new Set(await column(2)), new Set(['eu-west-1']));
  assert.ok(names.every((name) => /billing|checkout/.test(name)), names.join(', '));

  // Sorting by name a second time turns the order around, keeping the filters.
  await page.getByRole('link', { name: /^Name/ }).click();
  await page.waitForURL(/order=desc/);
  const reversed = [...names].reverse();
  await settle(() => column(1), (now) => JSON.stringify(now) === JSON.stringify(reversed), 'the order turns around');
  assert.match(page.url(), /region=eu-west-1/);
  assert.deepEqual(problems, []);
});

test('pages follow one another without repeating a secret', async () => {
  await page.goto(`${server.url}/secrets?limit=25`);
  const seen = [];
  let shown = await arns();
  for (;;) {
    seen.push(...shown);
    const next = page.getByTestId('next-page');
    if ((await next.count()) === 0 || seen.length > 200) break;
    await next.click();
    const before = shown[0];
    shown = await settle(arns, (now) => now.length > 0 && now[0] !== before, 'the next page shows');
  }
  const matching = Number.parseInt(await page.getByTestId('secrets-matching').innerText(), 10);
  assert.equal(seen.length, matching);
  assert.equal(new Set(seen).size, seen.length, 'no secret appears twice');
});

test('a secret with a public policy opens with its analysis, versions and timeline', async () => {
  await page.goto(`${server.url}/secrets?flag=public_policy`);
  assert.deepEqual(await column(1), ['prod/warehouse/api-key\nThird-party API key used by warehouse']);
  await rows().first().getByRole('link').click();
  await page.waitForURL(/\/secrets\/arn:aws:secretsmanager:us-east-1:/);

  assert.equal(await page.getByTestId('secret-name').innerText(), 'prod/warehouse/api-key');
  const analysis = await page.getByTestId('policy-analysis').innerText();
  assert.match(analysis, /statement "LegacyPublicRead" allows anyone/);
  assert.doesNotMatch(analysis, /AppReads/, 'the statement for its own account is not flagged');
  assert.match(await page.getByTestId('resource-policy').innerText(), /"Principal": "\*"/);

  const versions = await page.getByTestId('versions').locator('tbody tr').count();
  assert.ok(versions >= 2, `${versions} versions`);
  const timeline = page.getByTestId('version-timeline');
  assert.equal(await timeline.locator('g.timeline-row[data-version]').count(), versions);
  assert.ok(await timeline.locator('rect[data-label="AWSCURRENT"]').count() >= 1);
  assert.equal(await timeline.locator('[data-milestone="created"]').count(), 1);
  assert.equal(await timeline.locator('[data-milestone="next rotation"]').count(), 1);
  assert.match(await page.getByTestId('rotation-reason').innerText(), /Last rotated|Rotation is not enabled/);
  await page.screenshot({ path: path.join(screenshots, 'secret-detail.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('the overview counts secrets by rotation status and shows the last sync of each region', async () => {
  await page.goto(server.url);
  assert.match(await page.getByTestId('secrets-count').innerText(), /^\d+ secrets$/);
  assert.match(await page.getByTestId('flagged-count').innerText(), /^[1-9]\d* flagged$/);
  const synced = await page.getByTestId('last-syncs').locator('tbody tr td:first-child').allInnerTexts();
  assert.deepEqual(new Set(synced), new Set(regions));
  await page.getByTestId('status-counts').getByRole('link').first().click();
  await page.waitForURL(/\/secrets\?status=/);
  await page.goto(`${server.url}/secrets`);
  await page.screenshot({ path: path.join(screenshots, 'secrets.png'), fullPage: true });
});
