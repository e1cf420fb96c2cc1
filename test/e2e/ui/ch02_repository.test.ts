/**
 * User guide chapter 2 in the browser (Postgres + S3 mode): create a repository from the UI, push to it
 * with podman and watch the tag appear; the description is Markdown with a `<script>` that stays inert;
 * anonymous visitors browse the public repository and are sent to sign in for a private one.
 */
import type { Browser } from 'playwright-core';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from '../../integration/api/fixture.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { buildRandomImage } from '../quota/lib.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;

beforeAll(async () => {
  [reg, browser] = await Promise.all([(async () => startRegistry({ label: 'ui-ch02', config: await scaleOutConfig() }))(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

const DESCRIPTION = '# Web frontend\n\nBuilt **nightly**. <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">\n\n[click](javascript:window.__xss=3)';

test('chapter 2: create a repository, push with podman, see the tag; the description renders as Markdown without HTML', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository');
  await page.getByRole('heading', { name: 'Repositories', exact: true }).waitFor();
  await ui.expectAccessible('empty repositories list');

  await page.getByRole('button', { name: 'Create Repository' }).first().click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Repository name').fill('myrepo');
  await dialog.getByLabel('Repository description').fill(DESCRIPTION);
  await dialog.getByText('Private', { exact: true }).click();
  await ui.expectAccessible('create repository modal');
  await dialog.getByRole('button', { name: 'Create' }).click();
  await ui.toast('Created repository admin/myrepo');
  await page.getByRole('link', { name: 'admin/myrepo' }).click();
  await page.getByTestId('repo-title').waitFor();

  const api = await signin(reg, 'admin', reg.admin.password);
  const created = await api.ok('GET', '/repository/admin/myrepo');
  expect(created).toMatchObject({ is_public: false, description: DESCRIPTION });

  // Markdown: heading and bold rendered; script, event handler and javascript: link inert.
  const md = page.getByTestId('markdown');
  await md.getByRole('heading', { name: 'Web frontend' }).waitFor();
  expect(await md.locator('strong').textContent()).toBe('nightly');
  expect(await md.locator('script, img').count()).toBe(0);
  expect(await md.locator('a').first().getAttribute('href')).not.toMatch(/^javascript:/i);
  await md.getByText('click').click();
  expect(await page.evaluate('window.__xss')).toBeUndefined();
  expect(await page.getByTestId('pull-podman').getByRole('textbox').inputValue()).toBe(`podman pull ${reg.hostPort}/admin/myrepo`);
  await ui.expectAccessible('repository information');
  await ui.screenshot('repository-information');

  await page.getByRole('tab', { name: 'Tags' }).click();
  await page.getByText('This repository is empty').waitFor();

  const sb = clientSandbox('ui-ch02');
  const ref = `${reg.hostPort}/admin/myrepo:latest`;
  await buildRandomImage(sb, ref, 64 * 1024);
  await sb.run('podman', ['push', ...INSECURE.podman, '--creds', `admin:${reg.admin.password}`, ref]);

  await page.reload();
  await ui.settle();
  const row = page.getByTestId('table-entry').filter({ hasText: 'latest' });
  await row.waitFor();
  const tags = await api.ok('GET', '/repository/admin/myrepo/tag/?onlyActiveTags=true');
  expect(tags.tags.map((t: { name: string }) => t.name)).toEqual(['latest']);
  expect(await row.textContent()).toContain(tags.tags[0].manifest_digest.slice(0, 19));
  // Scanning and mirroring are off here: no Security column, no Mirroring tab (repo_features.test.ts has them on).
  expect(await page.getByRole('grid', { name: 'Tags' }).locator('thead th').allInnerTexts()).not.toContain('Security');
  expect(await page.getByRole('tab').allInnerTexts()).not.toContain('Mirroring');
  await ui.expectAccessible('tags tab');
  await ui.screenshot('repository-tags');

  await row.getByRole('button', { name: 'Pull commands for latest' }).click();
  const popover = page.getByTestId('pull-popover');
  await popover.waitFor();
  expect(await popover.getByRole('textbox', { name: 'Podman pull by tag' }).inputValue()).toBe(`podman pull ${ref}`);
  expect(await popover.getByRole('textbox', { name: 'Podman pull by digest' }).inputValue()).toBe(`podman pull ${reg.hostPort}/admin/myrepo@${tags.tags[0].manifest_digest}`);

  await ui.goto('/repository/admin/myrepo/tag/latest');
  await page.getByRole('heading', { name: 'latest' }).waitFor();
  expect(await page.getByTestId('manifest-digest').getByRole('textbox').inputValue()).toBe(tags.tags[0].manifest_digest);
  await ui.expectAccessible('tag details');
  await page.getByRole('tab', { name: 'Layers' }).click();
  await page
    .getByRole('grid', { name: 'Layers' })
    .or(page.getByRole('table', { name: 'Layers' }))
    .getByText('COPY')
    .first()
    .waitFor();
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('anonymous visitors browse a public repository and are sent to sign in for a private one', async () => {
  const api = await signin(reg, 'admin', reg.admin.password);
  await api.ok('POST', '/repository', { namespace: 'admin', repository: 'open', visibility: 'public', description: 'An open repository' });
  await api.ok('POST', '/repository', { namespace: 'admin', repository: 'secret', visibility: 'private', description: 'hidden' });

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.goto('/repository');
  await page.getByRole('link', { name: 'admin/open' }).waitFor();
  expect(await page.getByRole('link', { name: 'admin/secret' }).count()).toBe(0);
  expect(await page.getByRole('button', { name: 'Create Repository' }).count()).toBe(0);
  await page.getByRole('link', { name: 'admin/open' }).click();
  await page.getByTestId('repo-title').waitFor();
  await page.getByText('An open repository').waitFor();
  // Only Information and Tags for a reader.
  expect(await page.getByRole('tab').allTextContents()).toEqual(['Information', 'Tags']);
  await ui.expectAccessible('anonymous repository page');
  await ui.screenshot('anonymous-public-repository');

  await ui.goto('/repository/admin/secret');
  await page.waitForURL((u) => u.pathname === '/signin');
  expect(new URL(page.url()).searchParams.get('redirect')).toBe('/repository/admin/secret');
  // Signing in goes back to the page asked for.
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(reg.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/repository/admin/secret');
  await page.getByText('hidden').waitFor();
  expect(ui.problems).toEqual([]);
  await ui.close();
});
