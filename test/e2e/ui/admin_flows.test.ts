/**
 * Organization administration in the browser beyond the user guide's chapters: the organizations list's
 * counts, a team's repository permissions, a team invitation accepted from the bell, an OAuth application's
 * generated token used on the API, the superuser's registry size and global messages, the Change Log, and an
 * organization's Settings → Proxy Cache against a real upstream (Distribution) pulled through. Every step is
 * checked on screen and through the API; axe-core runs on each page.
 */
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { registryToken, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client } from '../../helpers/v2.js';
import { startDistribution, type DistributionService } from '../../setup/services.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { Api, createUser, signin } from '../../integration/api/fixture.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;
let admin: Api;
let alicePassword: string;
let receiver: Receiver;
let upstream: DistributionService;

beforeAll(async () => {
  // The log export's callback goes to a real receiver, on an address the SSRF guard is told to allow.
  receiver = await startReceiver({ host: '127.0.0.5' });
  // The proxy cache's upstream: Debian's docker-registry on 127.0.0.1, also allowed.
  upstream = await startDistribution();
  [reg, browser] = await Promise.all([
    startRegistry({
      label: 'ui-admin',
      config: { SUPER_USERS: ['admin'], SSRF_ALLOWED_HOSTS: ['127.0.0.5/32', '127.0.0.1/32'], PREFERRED_URL_SCHEME: 'http', FEATURE_PROXY_CACHE: true },
    }),
    launchBrowser(),
  ]);
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  alicePassword = await createUser(admin, 'alice');
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'web', visibility: 'public', description: '' });
  await admin.ok('PUT', '/organization/acme/team/devs', { name: 'devs', role: 'member', description: '' });
  await admin.ok('PUT', '/organization/acme/robots/ci', { description: '' });
  await V2Client.basic(reg).pushImage('acme/web', 'v1');
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
  await upstream?.stop();
  await receiver?.close();
});

/** The cells of the table row whose first cell names `name`, by column header. */
async function rowCells(page: Page, table: string, name: string): Promise<Record<string, string>> {
  const t = page.getByRole('grid', { name: table });
  const headers = (await t.locator('thead th').allInnerTexts()).map((h) => h.trim());
  const row = t.getByTestId('table-entry').filter({ has: page.getByRole('link', { name, exact: true }) });
  const cells = (await row.locator('td').allInnerTexts()).map((c) => c.trim());
  return Object.fromEntries(headers.map((h, i) => [h, cells[i]]));
}

async function kebab(page: Page, rowText: string, action: string): Promise<void> {
  await page.getByTestId('table-entry').filter({ hasText: rowText }).getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: action }).click();
}

test('organizations list counts, team repository permissions, a team invitation accepted from the bell', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);

  // The counts of the list come from one request; they match the organization's own endpoints.
  await ui.goto('/organization');
  const cells = await rowCells(page, 'Organizations', 'acme');
  const teams = Object.keys((await admin.ok('GET', '/organization/acme')).teams).length;
  const members = (await admin.ok('GET', '/organization/acme/members')).members.filter((m: { kind: string }) => m.kind === 'user').length;
  const robots = (await admin.ok('GET', '/organization/acme/robots')).robots.length;
  expect(cells).toMatchObject({ 'Repo Count': '2', Teams: String(teams), Members: String(members), Robots: String(robots) });
  expect([teams, members, robots]).toEqual([2, 1, 1]);
  expect(cells['Last Modified']).not.toBe('—');
  await ui.expectAccessible('organizations list with counts');

  // Team repository permissions: Write on app, then back to None.
  await ui.goto('/organization/acme?tab=Teamsandmembership');
  await kebab(page, 'devs', 'Set repository permissions');
  let dialog = page.getByRole('dialog');
  await dialog.getByLabel('Permission on app').selectOption('write');
  await ui.expectAccessible('team repository permissions');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await ui.toast('Repository permissions of devs saved');
  expect((await admin.ok('GET', '/repository/acme/app/permissions/team/devs')).role).toBe('write');
  expect((await admin.ok('GET', '/organization/acme/team/devs/permissions')).permissions).toEqual([
    expect.objectContaining({ repository: expect.objectContaining({ name: 'app' }), role: 'write' }),
  ]);
  await kebab(page, 'devs', 'Set repository permissions');
  dialog = page.getByRole('dialog');
  expect(await dialog.getByLabel('Permission on app').inputValue()).toBe('write');
  expect(await dialog.getByLabel('Permission on web').inputValue()).toBe('none');
  await dialog.getByLabel('Permission on app').selectOption('none');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await ui.toast('Repository permissions of devs saved');
  expect((await admin.ok('GET', '/repository/acme/app/permissions/team/')).permissions).toEqual({});

  // Invite alice; she accepts from the bell's drawer.
  expect((await admin.ok('PUT', '/organization/acme/team/devs/members/alice')).invited).toBe(true);
  await ui.close();
  const alice = await UiSession.open(browser, reg);
  await alice.signIn('alice', alicePassword);
  await alice.goto('/organization');
  await alice.page.getByText('You are not a member of any organization').waitFor();
  await alice.page.getByTestId('notification-bell').click();
  await alice.page.getByText('You have been invited to join team devs').waitFor();
  await alice.expectAccessible('notification drawer with an invitation');
  await alice.page.getByRole('button', { name: 'Accept invitation' }).click();
  await alice.toast('Joined team devs');
  const devs = await admin.ok('GET', '/organization/acme/team/devs/members?includePending=true');
  expect(devs.members).toEqual([expect.objectContaining({ name: 'alice' })]);
  expect(devs.members[0].invited).toBeFalsy();
  // Now a member: the list shows acme with what alice may see (the public repository only) and no admin counts.
  await alice.page.getByRole('link', { name: 'acme', exact: true }).waitFor();
  const aliceCells = await rowCells(alice.page, 'Organizations', 'acme');
  const aliceApi = await signin(reg, 'alice', alicePassword);
  const [summary] = (await aliceApi.ok('GET', '/user/organizations')).organizations;
  expect(summary).toMatchObject({ name: 'acme', is_org_admin: false, repo_count: 1, team_count: 2, member_count: null, robot_count: null });
  expect(aliceCells).toMatchObject({ 'Repo Count': '1', Teams: '2', Members: '—', Robots: '—', 'Your role': 'Member' });
  expect(alice.problems).toEqual([]);
  await alice.close();
});

test('OAuth application: a token generated in the UI works on the API with its scopes only, until revoked', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization/acme?tab=OAuthApplications');
  await page.getByRole('button', { name: 'Create new application' }).click();
  const create = page.getByRole('dialog');
  await create.getByLabel('Application Name').fill('ci-app');
  await create.getByRole('button', { name: 'Create application' }).click();
  await ui.toast('Created application ci-app');
  await page.getByRole('button', { name: 'ci-app', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('tab', { name: 'Generate Token' }).click();
  await dialog.getByLabel('Token name').fill('reader');
  await dialog.getByRole('checkbox', { name: 'repo:read' }).check();
  await ui.expectAccessible('generate token');
  await dialog.getByRole('button', { name: 'Generate Access Token' }).click();
  const token = await dialog.getByRole('textbox', { name: 'Access token', exact: true }).inputValue();
  expect(token.length).toBeGreaterThanOrEqual(40);
  await dialog.getByTestId('token-entry').filter({ hasText: 'reader' }).getByText('repo:read').waitFor();

  const bearer = new Api(reg.url, { bearer: token });
  const repos = await bearer.ok('GET', '/repository?namespace=acme');
  expect(repos.repositories.map((r: { name: string }) => r.name).sort()).toEqual(['app', 'web']);
  // repo:read does not create repositories.
  expect((await bearer.call('POST', '/repository', { namespace: 'acme', repository: 'nope', visibility: 'private', description: '' })).status).toBe(403);
  const apps = await admin.ok('GET', '/organization/acme/applications');
  const clientId = apps.applications.find((a: { name: string }) => a.name === 'ci-app').client_id;
  expect((await admin.ok('GET', `/organization/acme/applications/${clientId}/tokens`)).tokens).toEqual([expect.objectContaining({ name: 'reader', scope: 'repo:read' })]);

  await dialog.getByTestId('token-entry').filter({ hasText: 'reader' }).getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Revoke token' }).click();
  await page.getByRole('dialog', { name: 'Revoke token?' }).getByRole('button', { name: 'Revoke token' }).click();
  await ui.toast('Revoked reader');
  expect((await bearer.call('GET', '/repository?namespace=acme')).status).toBe(401);
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('superuser: registry size and global messages shown to every visitor', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization');
  const size = await admin.ok('GET', '/superuser/registrysize/');
  expect(size.size_bytes).toBeGreaterThan(2048);
  const shown = page.getByTestId('registry-size');
  await shown.getByText(/Total Registry Size: \d/).waitFor();
  await V2Client.basic(reg).pushImage('acme/web', 'v2');
  const grown = await admin.ok('GET', '/superuser/registrysize/');
  expect(grown.size_bytes).toBeGreaterThan(size.size_bytes);
  await shown.getByRole('button', { name: 'Calculate' }).click();
  await ui.toast('Registry size calculated');
  // The UI's format: KiB with two decimals below 10, one above.
  const kib = (n: number) => `${(n / 1024).toFixed(n / 1024 < 10 ? 2 : 1)} KiB`;
  await shown.getByText(kib(grown.size_bytes)).waitFor();

  await ui.goto('/messages');
  await page.getByRole('button', { name: 'Create Message' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Severity').selectOption('warning');
  await dialog.getByLabel('Message (Markdown)').fill('**Maintenance** tonight <script>document.title="owned"</script>');
  await dialog.getByRole('tab', { name: 'Preview' }).click();
  await dialog.getByTestId('message-preview').locator('strong', { hasText: 'Maintenance' }).waitFor();
  await ui.expectAccessible('create message');
  await dialog.getByRole('button', { name: 'Create Message' }).click();
  await ui.toast('Message created');
  const messages = (await admin.ok('GET', '/messages')).messages;
  expect(messages).toEqual([expect.objectContaining({ severity: 'warning', media_type: 'text/markdown' })]);
  await page.getByTestId('table-entry').filter({ hasText: 'Maintenance' }).getByText('Warning').waitFor();
  await ui.expectAccessible('messages');

  // Anonymous visitors see the banner; the raw HTML stays inert.
  const anon = await UiSession.open(browser, reg);
  await anon.goto('/repository/acme/web');
  const banner = anon.page.getByTestId('global-message');
  await banner.locator('strong', { hasText: 'Maintenance' }).waitFor();
  expect(await banner.locator('script').count()).toBe(0);
  expect(await anon.page.title()).not.toBe('owned');
  await anon.expectAccessible('global message banner');
  expect(anon.problems).toEqual([]);
  await anon.close();

  await kebab(page, 'Maintenance', 'Delete message');
  await page.getByRole('dialog').getByRole('button', { name: 'Delete message' }).click();
  await ui.toast('Message deleted');
  expect((await admin.ok('GET', '/messages')).messages).toEqual([]);
  await page.getByTestId('global-message').waitFor({ state: 'detached' });
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('usage logs: Export queues an export whose callback brings the logs of the period', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization/acme?tab=Logs');
  await page.getByRole('button', { name: 'Export' }).click();
  const dialog = page.getByRole('dialog', { name: 'Export Usage Logs' });
  await dialog.getByLabel('Callback URL', { exact: true }).first().check();
  await dialog.getByRole('textbox', { name: 'Callback URL' }).fill(`${receiver.url}/exported`);
  await ui.expectAccessible('export usage logs');
  await dialog.getByRole('button', { name: 'Start Logs Export' }).click();
  const toast = page.locator('.pf-v6-c-alert-group').getByText(/Logs export queued with ID \S+/);
  await toast.waitFor();
  const exportId = /ID (\S+)/.exec((await toast.innerText()) ?? '')![1];
  const [hit] = await receiver.waitFor(1, 60_000);
  expect(hit.path).toBe('/exported');
  const callback = JSON.parse(hit.body);
  expect(callback).toMatchObject({ export_id: exportId, namespace: 'acme', repository: null, status: 'success' });
  const doc = (await (await fetch(callback.exported_data_url)).json()) as { export_id: string; logs: { kind: string }[] };
  // The organization's own log of this session is in the document (the repositories and teams made above).
  expect(doc.export_id).toBe(exportId);
  expect(doc.logs.map((l) => l.kind)).toEqual(expect.arrayContaining(['create_repo', 'org_create_team']));
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('repository settings: a user permission added, changed and deleted from the shared list', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=settings');
  await page.getByRole('button', { name: 'Add permissions' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('User, robot or team').fill('ali');
  await dialog.getByRole('option', { name: 'user alice' }).click();
  await dialog.getByLabel('Permission', { exact: true }).selectOption('write');
  await dialog.getByRole('button', { name: 'Add permission' }).click();
  await ui.toast('Added alice with write');
  expect((await admin.ok('GET', '/repository/acme/app/permissions/user/alice')).role).toBe('write');
  await page.getByLabel('Permission of alice').selectOption('admin');
  await ui.toast('Changed alice to admin');
  expect((await admin.ok('GET', '/repository/acme/app/permissions/user/alice')).role).toBe('admin');
  await ui.expectAccessible('repository permissions');
  await page.getByTestId('permission-entry').filter({ hasText: 'alice' }).getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Delete permission' }).click();
  await page.getByRole('dialog', { name: 'Delete permission?' }).getByRole('button', { name: 'Delete permission' }).click();
  await ui.toast('Removed permission of alice');
  expect((await admin.call('GET', '/repository/acme/app/permissions/user/alice')).status).toBe(404);
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('superuser Service Keys: approve a submitted key, create a preshareable key, rename, set expiration, delete', async () => {
  // A service submits its own key through the key server; it waits for approval.
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuer('secscan')
    .setAudience(`http://${reg.hostPort}`)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(pair.privateKey);
  const submitted = await fetch(`${reg.url}/keys/services/secscan/keys/k1`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
    body: JSON.stringify(pair.publicKey.export({ format: 'jwk' })),
  });
  expect(submitted.status).toBe(202);

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/service-keys');
  const pending = page.getByTestId('table-entry').filter({ hasText: 'secscan' });
  await pending.getByText('Awaiting Approval').waitFor();
  await ui.expectAccessible('service keys');
  await kebab(page, 'secscan', 'Approve Key');
  await ui.toast('Approved k1');
  expect((await admin.ok('GET', '/superuser/keys/k1')).approval).toMatchObject({ approval_type: 'Super User API' });
  await pending.getByText('Approved by admin').waitFor();

  await page.getByRole('button', { name: 'Create Preshareable Key' }).click();
  let dialog = page.getByRole('dialog');
  await dialog.getByLabel('Key Name').fill('ci signer');
  await dialog.getByLabel('Service Name').fill('quay');
  await dialog.getByRole('button', { name: 'Create Key' }).click();
  await ui.toast('Created a key for quay');
  const privateKey = await page.getByRole('dialog', { name: 'Private key of ci signer' }).getByRole('textbox', { name: 'Private key' }).inputValue();
  expect(privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
  await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
  const keys = (await admin.ok('GET', '/superuser/keys')).keys as { kid: string; name: string; service: string; expiration_date: string | null; approval: unknown }[];
  const preshared = keys.find((k) => k.name === 'ci signer')!;
  expect(preshared).toMatchObject({ service: 'quay', expiration_date: null, approval: expect.objectContaining({ approval_type: 'Super User API' }) });

  await kebab(page, 'secscan', 'Set Friendly Name');
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('Friendly name').fill('scanner');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await page.getByTestId('table-entry').filter({ hasText: 'scanner' }).waitFor();
  expect((await admin.ok('GET', '/superuser/keys/k1')).name).toBe('scanner');

  await kebab(page, 'ci signer', 'Change Expiration Time');
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('Expires (empty: never)').fill('2031-03-04T05:06');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'detached' });
  const expiry = new Date((await admin.ok('GET', `/superuser/keys/${preshared.kid}`)).expiration_date);
  expect(expiry.getTime()).toBe(new Date('2031-03-04T05:06').getTime());

  await kebab(page, 'scanner', 'Delete Key');
  await page.getByRole('dialog', { name: 'Delete Key?' }).getByRole('button', { name: 'Delete Key' }).click();
  await ui.toast('Deleted scanner');
  expect((await admin.call('GET', '/superuser/keys/k1')).status).toBe(404);
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('Change Log: the superuser page renders the API’s Markdown (headings, entries, inline code as text); others are refused', async () => {
  const { log } = await admin.ok<{ log: string }>('GET', '/superuser/changelog/');
  const lines = log.split('\n');
  const headings = lines.filter((l) => /^#{1,6} /.test(l)).map((l) => l.replace(/^#+ /, '').replace(/`/g, ''));
  const entries = lines.filter((l) => /^\s*[-*] /.test(l)).length;
  expect(headings.length).toBeGreaterThan(0);

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await page.getByRole('link', { name: 'Change Log' }).click();
  await page.waitForURL('**/change-log');
  const markdown = page.getByTestId('change-log').getByTestId('markdown');
  await markdown.locator('h1').first().waitFor();
  expect((await markdown.locator('h1, h2, h3, h4, h5, h6').allInnerTexts()).map((h) => h.trim())).toEqual(headings);
  expect(await markdown.locator('li').count()).toBe(entries);
  // Markdown, not HTML: `<this text>` in the log is inline code shown as text.
  if (log.includes('`{"log": "<this text>"}`')) await markdown.locator('code').filter({ hasText: '{"log": "<this text>"}' }).first().waitFor();
  expect(await markdown.locator('script, iframe, [onerror]').count()).toBe(0);
  await ui.expectAccessible('change log');
  await ui.screenshot('superuser-change-log');
  expect(ui.problems).toEqual([]);
  await ui.close();

  // A user who is not a superuser: no sidebar entry, the page says why, the API refuses.
  const alice = await UiSession.open(browser, reg);
  await alice.signIn('alice', alicePassword);
  expect(await alice.page.getByRole('link', { name: 'Change Log' }).count()).toBe(0);
  await alice.goto('/change-log');
  await alice.page.getByText('Superusers only').waitFor();
  expect((await (await signin(reg, 'alice', alicePassword)).call('GET', '/superuser/changelog/')).status).toBe(403);
  await alice.expectAccessible('change log refused');
  expect(alice.problems).toEqual([]);
  await alice.close();
});

test('Settings → Proxy Cache: a refused upstream stores nothing; a real one is validated, saved, pulled through, then deleted', async () => {
  await admin.ok('POST', '/organization/', { name: 'mirrorcache', email: 'mirrorcache@example.com' });
  const image = await new V2Client({ url: upstream.url } as RegistryProcess).pushImage('library/alpine', '3');
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization/mirrorcache?tab=Settings');
  await page.getByRole('tab', { name: 'Proxy Cache' }).click();
  await ui.expectAccessible('proxy cache form');

  // The SSRF guard refuses an address it was not told to allow: the API's message, nothing stored.
  await page.locator('#proxy-registry').fill('10.0.0.1:5000/library');
  await page.getByRole('button', { name: 'Save' }).click();
  await ui.toast('The provided registry URL is not allowed');
  expect(await admin.ok('GET', '/organization/mirrorcache/proxycache')).toEqual({ upstream_registry: '', expiration_s: '', insecure: '' });

  await page.locator('#proxy-registry').fill(`${upstream.hostPort}/library`);
  await page.locator('#proxy-expiration').fill('3600');
  await page.locator('#proxy-insecure').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await ui.toast('Saved the proxy cache configuration of mirrorcache');
  await page.getByTestId('proxy-cache-config').getByText(`${upstream.hostPort}/library`).waitFor();
  expect(await admin.ok('GET', '/organization/mirrorcache/proxycache')).toEqual({ upstream_registry: `${upstream.hostPort}/library`, expiration_s: 3600, insecure: true });
  await ui.expectAccessible('proxy cache configured');
  await ui.screenshot('organization-proxy-cache');

  // The organization now caches the upstream: its manifest comes through, digest for digest.
  const token = await registryToken(reg, ['repository:mirrorcache/alpine:pull'], reg.admin);
  const pulled = await fetch(`${reg.url}/v2/mirrorcache/alpine/manifests/3`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  expect([pulled.status, pulled.headers.get('docker-content-digest')]).toEqual([200, image.digest]);

  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
  await ui.toast('Deleted the proxy cache configuration of mirrorcache');
  await page.locator('#proxy-registry').waitFor();
  expect(await admin.ok('GET', '/organization/mirrorcache/proxycache')).toEqual({ upstream_registry: '', expiration_s: '', insecure: '' });
  expect(ui.problems).toEqual([]);
  await ui.close();
});
