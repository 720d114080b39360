// The dashboard in a real browser: server-rendered from PostgreSQL, then hydrated.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
let server;
let browser;

before(async () => {
  server = await startServer();
  // Debian's Chromium; Playwright gives each launch a fresh, empty profile directory.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  await mkdir(screenshots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page in a viewer zone other than UTC, failing the test on any browser-side error. */
async function openPage(timezoneId = 'Asia/Kolkata') {
  const context = await browser.newContext({ timezoneId });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`);
  });
  return { page, problems };
}

test('the overview arrives rendered from the database, before any script runs', async () => {
  const response = await fetch(server.url);
  assert.equal(response.status, 200);
  const html = await response.text();
  for (const section of ['Overview', 'Secrets', 'Events', 'Findings', 'Alerts', 'Settings']) {
    assert.ok(html.includes(`>${section}</a>`), `navigation lacks ${section}`);
  }
  // The audit entry written at start names this server's own (random) port.
  assert.ok(html.includes(`started, serving ${server.url}`), html);
});

test('the hydrated overview switches every timestamp between local time and UTC', async () => {
  const { page, problems } = await openPage('Asia/Kolkata');
  await page.goto(server.url);

  const activity = page.getByTestId('recent-activity');
  await activity.getByText(`started, serving ${server.url}`).waitFor();
  assert.match(await page.getByTestId('database-version').textContent(), /^PostgreSQL \d+/);
  assert.equal(await page.getByTestId('aws-endpoint').textContent(), process.env.AWS_ENDPOINT_URL);

  // Once hydrated, the page shows the viewer's zone (the server can only render UTC).
  const toggle = page.getByRole('button', { name: /^Times:/ });
  await page.getByRole('button', { name: 'Times: local (+05:30)' }).waitFor();
  const firstTime = activity.locator('time').first();
  assert.match(await firstTime.textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30$/);
  await page.screenshot({ path: path.join(screenshots, 'overview.png'), fullPage: true });

  await toggle.click();
  await page.getByRole('button', { name: 'Times: UTC' }).waitFor();
  assert.match(await firstTime.textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);

  // The choice is remembered across reloads.
  await page.reload();
  await page.getByRole('button', { name: 'Times: UTC' }).waitFor();
  await page.waitForTimeout(500);
  assert.match(await activity.locator('time').first().textContent(), /UTC$/);

  assert.deepEqual(problems, []);
});

test('navigation moves between sections in the browser and unbuilt pages say so', async () => {
  const { page, problems } = await openPage();
  await page.goto(server.url);
  await page.getByRole('button', { name: /^Times: local/ }).waitFor(); // hydrated
  await page.getByRole('link', { name: 'Findings' }).click();
  await page.getByRole('heading', { level: 1, name: 'Findings' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/findings');
  await page.getByText('This page is not built yet.').waitFor();
  assert.equal(await page.getByRole('link', { name: 'Findings' }).getAttribute('aria-current'), 'page');
  assert.equal(await page.title(), 'Findings · Trailkeeper');
  await page.screenshot({ path: path.join(screenshots, 'findings-not-built.png') });
  assert.deepEqual(problems, []);
});

test('health and metrics endpoints answer', async () => {
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  const body = await health.json();
  assert.equal(body.database.status, 'up');

  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /trailkeeper_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
  assert.match(metrics, /trailkeeper_http_request_duration_seconds_bucket/);
});

test('pages, static files and JSON carry the security headers', async () => {
  const page = await fetch(server.url);
  const policy = page.headers.get('content-security-policy');
  assert.match(policy, /script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
  assert.ok(!policy.includes('unsafe-inline'), policy);
  for (const resource of ['/pkg/trailkeeper.css', '/pkg/trailkeeper.wasm', '/healthz']) {
    const response = await fetch(`${server.url}${resource}`);
    assert.equal(response.status, 200, resource);
    assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", resource);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff', resource);
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer', resource);
  }
});

test('stopping the server stops its private PostgreSQL', async () => {
  const pidFile = path.join(server.dataDir, 'pg', 'postmaster.pid');
  assert.ok(existsSync(pidFile), 'the private PostgreSQL runs while serving');
  const { code } = await server.stop();
  assert.equal(code, 0, server.output());
  assert.ok(!existsSync(pidFile), `postmaster.pid is still there:\n${server.output()}`);
});
