// The dashboard in a real browser: signed in through the real form, server-rendered from
// PostgreSQL, then hydrated.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { launchBrowser, repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await mkdir(screenshots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The site's CSS and wasm as the sign-in page links them (release builds hash their names). */
async function siteFiles() {
  const html = await (await fetch(`${server.url}/login`)).text();
  const linked = (extension) => {
    const found = html.match(new RegExp(`/pkg/trailkeeper[^"]*\\.${extension}`));
    assert.ok(found, `the page links no .${extension}: ${html}`);
    return found[0];
  };
  return { css: linked('css'), wasm: linked('wasm') };
}

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

/** Signs in through the form, from wherever the page is sent to sign in. */
async function signIn(page, { user, password } = server.admin) {
  if (!new URL(page.url()).pathname.startsWith('/login')) await page.goto(`${server.url}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').waitFor();
}

/** A signed-in admin on the overview, hydrated. */
async function signedInPage(timezoneId) {
  const opened = await openPage(timezoneId);
  await opened.page.goto(server.url);
  await signIn(opened.page);
  await opened.page.getByRole('button', { name: /^Times: local/ }).waitFor(); // hydrated
  return opened;
}

test('without a session only sign-in, health and static files answer', async () => {
  const page = await fetch(server.url, { redirect: 'manual' });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), '/login');
  assert.equal(page.headers.get('cache-control'), 'no-store');

  const audit = await fetch(`${server.url}/audit?actor=x`, { redirect: 'manual' });
  assert.equal(audit.headers.get('location'), '/login?next=%2Faudit%3Factor%3Dx');

  for (const api of ['/api/v1/me', '/metrics']) {
    const response = await fetch(`${server.url}${api}`);
    assert.equal(response.status, 401, api);
    assert.deepEqual(await response.json(), { error: 'sign in required' });
  }
  const overview = await fetch(`${server.url}/api/overview`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url },
  });
  assert.equal(overview.status, 401);

  const { css } = await siteFiles();
  for (const open of ['/login', '/healthz', css, '/favicon.svg']) {
    assert.equal((await fetch(`${server.url}${open}`)).status, 200, open);
  }
});

test('sign in, see the overview, sign out, and the back button shows nothing protected', async () => {
  const { page, problems } = await openPage();
  await page.goto(server.url);
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.screenshot({ path: path.join(screenshots, 'login.png') });

  await signIn(page);
  assert.equal(new URL(page.url()).pathname, '/');
  const activity = page.getByTestId('recent-activity');
  await activity.getByText('admin signed in with role admin').waitFor();
  assert.equal(await page.getByTestId('signed-in-as').textContent(), 'admin admin');
  // The audit entry written at start names this server's own (random) port.
  await activity.getByText(`started, serving ${server.url}`).waitFor();
  assert.match(await page.getByTestId('database-version').textContent(), /^PostgreSQL \d+/);
  assert.equal(await page.getByTestId('aws-endpoint').textContent(), process.env.AWS_ENDPOINT_URL);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('You have signed out.').waitFor();
  assert.equal(new URL(page.url()).pathname, '/login');

  await page.goBack();
  await page.waitForLoadState('load');
  assert.equal(new URL(page.url()).pathname, '/login');
  const shown = await page.content();
  for (const secretive of ['Recent activity', 'admin signed in', 'PostgreSQL']) {
    assert.ok(!shown.includes(secretive), `the back button showed "${secretive}"`);
  }
  assert.equal(await page.getByTestId('signed-in-as').count(), 0);
  assert.deepEqual(problems, []);
});

test('a wrong password is refused with a message that does not say which part was wrong', async () => {
  const { page } = await openPage();
  await page.goto(`${server.url}/login`);
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('sign-in-notice').waitFor();
  assert.equal(await page.getByTestId('sign-in-notice').textContent(), 'The user name or password is wrong.');
  await page.screenshot({ path: path.join(screenshots, 'login-refused.png') });
});

test('the hydrated overview switches every timestamp between local time and UTC', async () => {
  const { page, problems } = await signedInPage('Asia/Kolkata');
  const activity = page.getByTestId('recent-activity');

  // Once hydrated, the page shows the viewer's zone (the server can only render UTC).
  const toggle = page.getByRole('button', { name: /^Times:/ });
  await page.getByRole('button', { name: 'Times: local (+05:30)' }).waitFor();
  const firstTime = activity.locator('time').first();
  assert.match(await firstTime.textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30$/);
  await page.screenshot({ path: path.join(screenshots, 'overview.png'), fullPage: true });

  // What reaches the page after its script ran (a slow section streamed in, an island drawn
  // anew) is shown in the viewer's zone too.
  await page.evaluate(() => {
    const late = document.createElement('section');
    late.dataset.testid = 'arrived-late';
    late.innerHTML = '<p><time datetime="2026-10-03T08:15:00+00:00">2026-10-03 08:15:00 UTC</time></p>';
    document.body.append(late);
  });
  const lateTime = page.getByTestId('arrived-late').locator('time');
  await lateTime.filter({ hasText: '2026-10-03 13:45:00 +05:30' }).waitFor();

  await toggle.click();
  await page.getByRole('button', { name: 'Times: UTC' }).waitFor();
  assert.match(await firstTime.textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.equal(await lateTime.textContent(), '2026-10-03 08:15:00 UTC');

  // The choice is remembered across reloads.
  await page.reload();
  await page.getByRole('button', { name: 'Times: UTC' }).waitFor();
  await page.waitForTimeout(500);
  assert.match(await activity.locator('time').first().textContent(), /UTC$/);

  assert.deepEqual(problems, []);
});

test('navigation moves between sections in the browser', async () => {
  const { page, problems } = await signedInPage();
  await page.getByRole('link', { name: 'Alerts' }).click();
  await page.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/alerts');
  await page.getByRole('heading', { level: 2, name: 'Delivery log' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Alerts' }).getAttribute('aria-current'), 'page');
  assert.equal(await page.title(), 'Alerts · Trailkeeper');
  assert.deepEqual(problems, []);
});

test('admins filter the audit log, and the filter lives in the URL', async () => {
  const { page, problems } = await signedInPage();
  await page.getByRole('link', { name: 'Audit log' }).click();
  const log = page.getByTestId('audit-log');
  await log.waitFor();
  await page.getByLabel('Action').fill('auth.');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/action=auth\./);
  await log.getByText('admin signed in with role admin').first().waitFor();
  const actions = await log.locator('code.action').allTextContents();
  assert.ok(actions.length > 0 && actions.every((action) => action.startsWith('auth.')), actions.join());
  // The client address is recorded with each sign-in.
  await log.getByText('127.0.0.1').first().waitFor();
  await page.screenshot({ path: path.join(screenshots, 'audit-log.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('a viewer sees only the sections a viewer may use, and is refused the rest', async () => {
  const added = await server.run(['user', 'add', 'vera', '--role', 'viewer', '--password-stdin'], 'a viewer password 123\n');
  assert.equal(added.code, 0, added.stderr);

  const { page } = await openPage();
  await page.goto(server.url);
  await signIn(page, { user: 'vera', password: 'a viewer password 123' });
  const nav = page.getByRole('navigation', { name: 'Sections' });
  await nav.getByRole('link', { name: 'Events' }).waitFor();
  for (const hidden of ['Alerts', 'Settings', 'Audit log']) {
    assert.equal(await nav.getByRole('link', { name: hidden }).count(), 0, hidden);
  }
  const refused = await page.goto(`${server.url}/audit`);
  assert.equal(refused.status(), 403);
  await page.getByText('This page needs the admin role.').waitFor();
});

test('an API token made on the command line gets exactly its role', async () => {
  const created = await server.run(['token', 'create', 'scraper', '--role', 'viewer', '--expires', '1d']);
  assert.equal(created.code, 0, created.stderr);
  const token = created.stdout.trim();
  assert.match(token, /^tkp_[A-Za-z0-9_-]{43}$/);
  const auth = { authorization: `Bearer ${token}` };

  const me = await fetch(`${server.url}/api/v1/me`, { headers: auth });
  assert.equal(me.status, 200);
  assert.deepEqual(await me.json(), { name: 'scraper', role: 'viewer', credential: 'token' });

  const metrics = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
  assert.match(metrics, /trailkeeper_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);

  const openapi = await fetch(`${server.url}/api/v1/openapi.json`, { headers: auth });
  assert.ok((await openapi.json()).paths['/api/v1/me']);

  const revoked = await server.run(['token', 'revoke', 'scraper']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((await fetch(`${server.url}/api/v1/me`, { headers: auth })).status, 401);
});

test('pages, static files and JSON carry the security headers', async () => {
  const page = await fetch(`${server.url}/login`);
  const policy = page.headers.get('content-security-policy');
  assert.match(policy, /script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
  assert.ok(!policy.includes('unsafe-inline'), policy);
  assert.match(policy, /frame-ancestors 'none'/);
  const { css, wasm } = await siteFiles();
  for (const resource of [css, wasm, '/healthz', '/api/v1/me']) {
    const response = await fetch(`${server.url}${resource}`);
    assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", resource);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff', resource);
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer', resource);
  }
});

test('the CSS and wasm have hashed names and are cached for good', async () => {
  const { css, wasm } = await siteFiles();
  assert.match(css, /^\/pkg\/trailkeeper\.[\w-]+\.css$/);
  assert.match(wasm, /^\/pkg\/trailkeeper\.[\w-]+\.wasm$/);
  for (const resource of [css, wasm]) {
    const response = await fetch(`${server.url}${resource}`);
    assert.equal(response.status, 200, resource);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable', resource);
    assert.ok((await response.arrayBuffer()).byteLength > 0, resource);
  }
  // What is not named by its content is checked each time.
  const favicon = await fetch(`${server.url}/favicon.svg`);
  assert.equal(favicon.headers.get('cache-control'), 'no-cache');
});

test('the CSS and wasm are sent compressed to browsers that accept it', async () => {
  const { css, wasm } = await siteFiles();
  for (const resource of [css, wasm]) {
    const plain = await fetch(`${server.url}${resource}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null, resource);
    const size = (await plain.arrayBuffer()).byteLength;
    for (const encoding of ['br', 'gzip']) {
      const response = await fetch(`${server.url}${resource}`, { headers: { 'accept-encoding': encoding } });
      assert.equal(response.status, 200, `${resource} ${encoding}`);
      assert.equal(response.headers.get('content-encoding'), encoding, resource);
      assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable', resource);
      // The body arrives decompressed; the wire carried fewer bytes than that.
      assert.equal((await response.arrayBuffer()).byteLength, size, `${resource} ${encoding}`);
      assert.ok(Number(response.headers.get('content-length')) < size, `${resource} ${encoding} is smaller`);
    }
  }
});

test('stopping the server stops its private PostgreSQL', async () => {
  const pidFile = path.join(server.dataDir, 'pg', 'postmaster.pid');
  assert.ok(existsSync(pidFile), 'the private PostgreSQL runs while serving');
  const { code } = await server.stop();
  assert.equal(code, 0, server.output());
  assert.ok(!existsSync(pidFile), `postmaster.pid is still there:\n${server.output()}`);
});
