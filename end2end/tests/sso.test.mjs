// Single sign-on in a real browser against a real OpenID Connect provider started here
// (oauth2-mock-server: discovery, JWKS, signed ID tokens, PKCE checks).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';
import { launchBrowser, repoRoot, startServer } from './server.mjs';

const screenshots = path.join(repoRoot, 'end2end', 'output');
let provider;
let server;
let browser;

before(async () => {
  provider = new OAuth2Server();
  await provider.issuer.keys.generate('RS256');
  await provider.start(0, '127.0.0.1');
  server = await startServer({
    TRAILKEEPER_OIDC_ISSUER: provider.issuer.url,
    TRAILKEEPER_OIDC_CLIENT_ID: 'trailkeeper',
    TRAILKEEPER_OIDC_CLIENT_SECRET: 'trailkeeper-test-secret',
    TRAILKEEPER_OIDC_ROLES: 'admin=secops-admins,auditor=audit,viewer=payments-engineers,viewer=contractors',
    TRAILKEEPER_OIDC_SCOPES: '*:secops-admins,*:audit,team=payments:payments-engineers,payments/*:payments-engineers',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await provider?.stop();
});

/** The provider signs the next tokens for this account. */
function providerAccount(claims) {
  const sign = (token) => Object.assign(token.payload, claims);
  provider.service.on('beforeTokenSigning', sign);
  return () => provider.service.off('beforeTokenSigning', sign);
}

test('single sign-on signs in with the role the provider\'s groups claim maps to', async () => {
  const forget = providerAccount({ sub: 'u-1001', preferred_username: 'sso-auditor', groups: ['engineering', 'audit'] });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/findings`);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.screenshot({ path: path.join(screenshots, 'login-sso.png') });
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await page.getByTestId('signed-in-as').waitFor();
    // Back where the browser was going, as the mapped role.
    assert.equal(new URL(page.url()).pathname, '/findings');
    assert.equal(await page.getByTestId('signed-in-as').textContent(), 'sso-auditor auditor');
    const nav = page.getByRole('navigation', { name: 'Sections' });
    await nav.getByRole('link', { name: 'Alerts' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Audit log' }).count(), 0);
  } finally {
    forget();
  }
  const listed = await server.run(['user', 'list']);
  assert.match(listed.stdout, /^sso-auditor\s+auditor\s/m, listed.stdout);
});

test('an account the role mapping does not cover is refused', async () => {
  const forget = providerAccount({ sub: 'u-2002', preferred_username: 'intern', groups: ['engineering'] });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await page.getByTestId('sign-in-notice').waitFor();
    assert.match(await page.getByTestId('sign-in-notice').textContent(), /has no Trailkeeper role/);
    assert.equal(await page.getByTestId('signed-in-as').count(), 0);
  } finally {
    forget();
  }
  const listed = await server.run(['user', 'list']);
  assert.doesNotMatch(listed.stdout, /intern/);
});

test('the groups claim also decides the scope: a payments engineer sees only payments', async () => {
  const forget = providerAccount({ sub: 'u-4004', preferred_username: 'sso-payments', groups: ['payments-engineers'] });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await page.getByTestId('signed-in-scope').waitFor();
    assert.equal(await page.getByTestId('signed-in-scope').textContent(), 'team=payments,payments/*');
  } finally {
    forget();
  }
  const listed = await server.run(['user', 'list']);
  assert.match(listed.stdout, /^sso-payments\s+viewer\s.*limited to team=payments,payments\/\*$/m, listed.stdout);
});

test('an account with a role but no scope mapping is refused', async () => {
  const forget = providerAccount({ sub: 'u-5005', preferred_username: 'contractor', groups: ['contractors'] });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await page.getByTestId('sign-in-notice').waitFor();
    assert.match(await page.getByTestId('sign-in-notice').textContent(), /not mapped to any part of the estate/);
    assert.equal(await page.getByTestId('signed-in-as').count(), 0);
  } finally {
    forget();
  }
  const listed = await server.run(['user', 'list']);
  assert.doesNotMatch(listed.stdout, /contractor/);
});

test('a callback with a state Trailkeeper never issued is refused', async () => {
  const response = await fetch(`${server.url}/login/sso/callback?code=made-up&state=made-up`, { redirect: 'manual' });
  assert.equal(response.status, 303);
  assert.equal(response.headers.get('location'), '/login?reason=sso-expired');
  assert.equal(response.headers.get('set-cookie'), null);
});

test('a callback opened in another browser signs nobody in and ends no session', async () => {
  // The victim is signed in already.
  const forgetVictim = providerAccount({ sub: 'u-3003', preferred_username: 'sso-victim', groups: ['audit'] });
  const victim = await (await browser.newContext()).newPage();
  try {
    await victim.goto(`${server.url}/login`);
    await victim.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await victim.getByTestId('signed-in-as').waitFor();
  } finally {
    forgetVictim();
  }

  // The attacker starts a sign-in of their own (outside any browser) and stops at the
  // provider's redirect back, keeping its binding cookie to themselves.
  const started = await fetch(`${server.url}/login/sso`, { redirect: 'manual' });
  assert.match(started.headers.get('set-cookie'), /^trailkeeper_sso=.*HttpOnly/);
  const atProvider = await fetch(started.headers.get('location'), { redirect: 'manual' });
  const callback = atProvider.headers.get('location');
  assert.match(callback, /\/login\/sso\/callback\?.*state=/);

  // The victim is made to open the attacker's callback URL: were it accepted, the victim's
  // browser would be signed in as the attacker's account.
  const forgetAttacker = providerAccount({ sub: 'u-3004', preferred_username: 'sso-attacker', groups: ['secops-admins'] });
  try {
    await victim.goto(callback);
  } finally {
    forgetAttacker();
  }
  assert.equal(new URL(victim.url()).pathname, '/login');
  assert.equal(new URL(victim.url()).searchParams.get('reason'), 'sso-expired');
  await victim.goto(`${server.url}/findings`);
  await victim.getByTestId('signed-in-as').waitFor();
  assert.equal(await victim.getByTestId('signed-in-as').textContent(), 'sso-victim auditor');
  const listed = await server.run(['user', 'list']);
  assert.doesNotMatch(listed.stdout, /sso-attacker/);
});
