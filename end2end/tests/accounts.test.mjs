// An AWS Organization in the browser: the peer's Organization with a prod and a dev account,
// synced through the role Organizations made in each; the Overview's Accounts table shows
// each account's secrets, rotation, findings, last sync and whether its CloudTrail arrives,
// and its secrets count opens the Secrets list filtered to that account; Trail coverage shows
// what each account's trails log of Secrets Manager there.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser, repoRoot, signedIn, startServer } from './server.mjs';

// A region of its own in the AWS peer the suites share; the peer holds one Organization,
// and only this suite makes it.
const region = 'sa-east-1';
let server;
let browser;
let accounts;

function python(script) {
  const ran = spawnSync(path.join(repoRoot, '.venv', 'bin', 'python'), ['-c', script], { encoding: 'utf8' });
  assert.equal(ran.status, 0, `the AWS peer refused:\n${ran.stderr}`);
  return ran.stdout;
}

/** One read of `arn` in `account`, as its trail delivers it. */
function read(account, arn, id) {
  return call(account, arn, id, 'GetSecretValue', {});
}

/** The call `name` on `arn` in `account` by its payments task, as its trail delivers it. */
function call(account, arn, id, name, request) {
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'AssumedRole', accountId: account,
      arn: `arn:aws:sts::${account}:assumed-role/payments-task/payments-1`,
      sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${account}:role/payments-task`, accountId: account, userName: 'payments-task' } },
    },
    eventTime: new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    eventSource: 'secretsmanager.amazonaws.com', eventName: name, awsRegion: region,
    sourceIPAddress: '10.20.1.7', userAgent: 'aws-sdk-java/2.25.11', requestParameters: { secretId: arn, ...request },
    resources: [{ accountId: account, type: 'AWS::SecretsManager::Secret', ARN: arn }],
    responseElements: null, eventID: id, eventType: 'AwsApiCall', recipientAccountId: account,
  };
}

before(async () => {
  accounts = JSON.parse(python(`
import boto3, json, os
org = boto3.client('organizations', region_name='us-east-1')
org.create_organization(FeatureSet='ALL')
made = {}
for name, secrets in [('prod', ['prod/payments/db', 'prod/payments/api-key']), ('dev', ['dev/identity/db'])]:
    account = org.create_account(AccountName=name, Email=name + '@example.org')['CreateAccountStatus']['AccountId']
    credentials = boto3.client('sts', region_name='us-east-1').assume_role(
        RoleArn=f'arn:aws:iam::{account}:role/OrganizationAccountAccessRole', RoleSessionName='e2e')['Credentials']
    client = boto3.client('secretsmanager', region_name='${region}', aws_access_key_id=credentials['AccessKeyId'],
        aws_secret_access_key=credentials['SecretAccessKey'], aws_session_token=credentials['SessionToken'])
    made[name] = {'id': account, 'arns': [client.create_secret(Name=secret, SecretString=os.urandom(16).hex(),
        Tags=[{'Key': 'team', 'Value': secret.split('/')[1]}])['ARN'] for secret in secrets]}
    # Each account's own trail: prod's logs every management event, dev's only changes.
    keys = dict(aws_access_key_id=credentials['AccessKeyId'],
        aws_secret_access_key=credentials['SecretAccessKey'], aws_session_token=credentials['SessionToken'])
    bucket = f'{name}-trail-{account}'
    boto3.client('s3', region_name='us-east-1', **keys).create_bucket(Bucket=bucket)
    cloudtrail = boto3.client('cloudtrail', region_name='${region}', **keys)
    cloudtrail.create_trail(Name=f'{name}-trail', S3BucketName=bucket)
    cloudtrail.start_logging(Name=f'{name}-trail')
    if name == 'dev':
        cloudtrail.put_event_selectors(TrailName='dev-trail',
            EventSelectors=[{'ReadWriteType': 'WriteOnly', 'IncludeManagementEvents': True}])
print(json.dumps(made))
`));
  server = await startServer({ TRAILKEEPER_REGIONS: region, TRAILKEEPER_ORG_ROLE_NAME: 'OrganizationAccountAccessRole' });
  const synced = await server.run(['sync', '--regions', region, '--org-role-name', 'OrganizationAccountAccessRole']);
  assert.equal(synced.code, 0, synced.stdout + synced.stderr);
  // Only prod's CloudTrail has arrived.
  const scratch = await mkdtemp(path.join(tmpdir(), 'trailkeeper-e2e-trail-'));
  const file = path.join(scratch, 'trail.json');
  await writeFile(file, JSON.stringify({ Records: [read(accounts.prod.id, accounts.prod.arns[0], 'e2e-accounts-1')] }));
  const ingested = await server.run(['ingest', file]);
  assert.equal(ingested.code, 0, ingested.stderr);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the Overview has a row per account and opens each account\'s secrets', async () => {
  const page = await signedIn(browser, server.url, server.admin.user, server.admin.password);
  await page.goto(server.url);
  const row = (name) => page.getByTestId('accounts').locator(`tr[data-account="${accounts[name].id}"]`);
  await row('prod').waitFor();
  assert.match(await row('prod').locator('td').first().innerText(), new RegExp(`^prod \\(${accounts.prod.id}\\)$`));
  assert.equal(await row('prod').getByTestId('account-secrets').innerText(), '2');
  assert.equal(await row('dev').getByTestId('account-secrets').innerText(), '1');
  assert.match(await row('prod').getByTestId('account-trail').innerText(), /newest event/);
  assert.match(await row('dev').getByTestId('account-trail').innerText(), /no CloudTrail events/);
  // The management account is there too, by the Organization's name for it.
  assert.equal(await page.getByTestId('accounts').locator('tr[data-account="123456789012"]').count(), 1);

  await row('prod').getByTestId('account-secrets').click();
  await page.waitForURL(new RegExp(`/secrets\\?account=${accounts.prod.id}`));
  const listed = page.getByTestId('secrets').locator('tbody tr');
  await page.waitForFunction((count) => document.querySelectorAll('[data-testid="secrets"] tbody tr').length === count, 2);
  const arns = await listed.evaluateAll((rows) => rows.map((tr) => tr.dataset.arn));
  assert.deepEqual(new Set(arns), new Set(accounts.prod.arns));
  const owners = await listed.locator('td[data-account]').allInnerTexts();
  assert.ok(owners.every((owner) => owner === `prod (${accounts.prod.id})`), owners.join(', '));
  assert.equal(await page.locator('select[name="account"]').inputValue(), accounts.prod.id);
});

test('the Overview shows where Secrets Manager reads are logged, and where no trail logs them', async () => {
  const page = await signedIn(browser, server.url, server.admin.user, server.admin.password);
  await page.goto(server.url);
  const place = (name) => page.getByTestId('coverage')
    .locator(`tr[data-account="${accounts[name].id}"][data-region="${region}"]`);
  await place('prod').waitFor();
  assert.equal(await place('prod').getByTestId('coverage-reads').innerText(), 'all');
  assert.match(await place('prod').getByTestId('coverage-trails').innerText(), /prod-trail/);
  // dev's trail logs changes only: its secrets' reads are never seen.
  assert.equal(await place('dev').getByTestId('coverage-reads').innerText(), 'none');
  assert.equal(await place('dev').getByTestId('coverage-writes').innerText(), 'all');
  assert.match(await place('dev').getByTestId('coverage-trails').innerText(), /dev-trail/);
  await page.screenshot({ path: path.join(repoRoot, 'end2end', 'output', 'trail-coverage.png'), fullPage: true });
});

test('a person scoped to the payments team sees only its secrets, findings and account', async () => {
  // An incident for each team: a public policy on a payments secret, an identity secret
  // deleted without recovery.
  const publicPolicy = JSON.stringify({
    Statement: [{ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue', Resource: '*' }],
  });
  const scratch = await mkdtemp(path.join(tmpdir(), 'trailkeeper-e2e-teams-'));
  const file = path.join(scratch, 'incidents.json');
  await writeFile(file, JSON.stringify({ Records: [
    call(accounts.prod.id, accounts.prod.arns[1], 'e2e-teams-1', 'PutResourcePolicy', { resourcePolicy: publicPolicy }),
    call(accounts.dev.id, accounts.dev.arns[0], 'e2e-teams-2', 'DeleteSecret', { forceDeleteWithoutRecovery: true }),
  ] }));
  const ingested = await server.run(['ingest', file]);
  assert.equal(ingested.code, 0, ingested.stderr);
  const added = await server.run(
    ['user', 'add', 'pay', '--role', 'viewer', '--scope', 'team=payments', '--password-stdin'],
    'payments-e2e-password\n',
  );
  assert.equal(added.code, 0, added.stderr);

  const page = await signedIn(browser, server.url, 'pay', 'payments-e2e-password');
  assert.equal(await page.getByTestId('signed-in-scope').innerText(), 'team=payments');
  await page.goto(`${server.url}/secrets`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="secrets"] tbody tr').length > 0);
  const arns = await page.getByTestId('secrets').locator('tbody tr').evaluateAll((rows) => rows.map((tr) => tr.dataset.arn));
  assert.deepEqual(new Set(arns), new Set(accounts.prod.arns));

  const foreign = new RegExp(`dev/identity|${accounts.dev.id}`);
  await page.goto(`${server.url}/findings`);
  const findings = page.getByTestId('findings');
  await findings.getByText('prod/payments/api-key').first().waitFor();
  assert.doesNotMatch(await page.locator('main').innerText(), foreign);
  await page.goto(server.url);
  await page.getByTestId('findings-by-severity').waitFor();
  assert.doesNotMatch(await page.locator('main').innerText(), foreign);
  await page.screenshot({ path: path.join(repoRoot, 'end2end', 'output', 'overview-scoped.png'), fullPage: true });

  // Everyone else still sees the identity team's incident.
  const admin = await signedIn(browser, server.url, server.admin.user, server.admin.password);
  await admin.goto(`${server.url}/findings`);
  await admin.getByTestId('findings').getByText('dev/identity/db').first().waitFor();
});

test('an admin adds a person limited to a team on the Users page and changes their scope', async () => {
  const page = await signedIn(browser, server.url, server.admin.user, server.admin.password);
  await page.goto(`${server.url}/users`);
  await page.waitForLoadState('networkidle'); // hydrated: the form is the page's island
  const form = page.getByTestId('add-user');
  await form.getByLabel('Name').fill('lee');
  await form.getByLabel('Role').selectOption('auditor');
  await form.getByLabel('Scope').fill('team=identity');
  await form.getByRole('button', { name: 'Add' }).click();
  await page.getByTestId('add-user-outcome').waitFor();
  const password = (await page.getByTestId('add-user-outcome').innerText()).match(/shown only this once: (\S+)/)[1];
  const row = page.getByTestId('users').locator('tr[data-user="lee"]');
  await page.waitForFunction(() => document.querySelector('tr[data-user="lee"] td[data-scope]')?.dataset.scope === 'team=identity');

  const lee = await signedIn(browser, server.url, 'lee', password);
  await lee.goto(`${server.url}/secrets`);
  await lee.waitForFunction(() => document.querySelectorAll('[data-testid="secrets"] tbody tr').length > 0);
  const seen = await lee.getByTestId('secrets').locator('tbody tr').evaluateAll((rows) => rows.map((tr) => tr.dataset.arn));
  assert.deepEqual(seen, accounts.dev.arns);

  await row.getByLabel('Scope of lee').fill(`team=identity,${accounts.prod.id}`);
  await row.locator('td[data-scope]').getByRole('button', { name: 'Set' }).click();
  await page.getByTestId('user-outcome').waitFor();
  assert.equal(await page.getByTestId('user-outcome').innerText(), `lee now sees only ${accounts.prod.id},team=identity.`);
  await page.screenshot({ path: path.join(repoRoot, 'end2end', 'output', 'users.png'), fullPage: true });
});
