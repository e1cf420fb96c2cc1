/**
 * Real-browser helpers for the web UI specs: Debian's Chromium driven by playwright-core against a registry
 * process the test started. Each session records CSP violations and page errors (a spec fails on any),
 * runs axe-core on demand, and saves screenshots under .test-work/ui-screenshots/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { RegistryProcess } from '../../helpers/registry.js';
import { WORK_ROOT } from '../../setup/paths.js';
import { tool } from '../../setup/tools.js';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const SCREENSHOT_DIR = join(WORK_ROOT, 'ui-screenshots');

export async function launchBrowser(): Promise<Browser> {
  // Tests run as root in CI: Chromium's sandbox needs an unprivileged user.
  return chromium.launch({ executablePath: tool('chromium'), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

export class UiSession {
  readonly problems: string[] = [];
  private constructor(
    readonly reg: RegistryProcess,
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.on('console', (m) => {
      const text = m.text();
      if (/Content Security Policy|Refused to (load|execute|apply)/i.test(text)) this.problems.push(`CSP: ${text}`);
    });
    page.on('pageerror', (e) => this.problems.push(`page error: ${e.message}`));
  }

  static async open(browser: Browser, reg: RegistryProcess): Promise<UiSession> {
    const context = await browser.newContext({ baseURL: reg.url, viewport: { width: 1280, height: 860 } });
    context.setDefaultTimeout(30_000);
    return new UiSession(reg, context, await context.newPage());
  }

  async goto(path: string): Promise<void> {
    await this.page.goto(path);
    await this.settle();
  }

  /** Until no spinner is left on the page. */
  async settle(): Promise<void> {
    await this.page.waitForLoadState('networkidle');
    await this.page
      .locator('.pf-v6-c-spinner')
      .first()
      .waitFor({ state: 'detached', timeout: 30_000 })
      .catch(() => undefined);
  }

  async signIn(username: string, password: string): Promise<void> {
    await this.goto('/signin');
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
    await this.page.waitForURL((u) => !u.pathname.startsWith('/signin'));
    await this.settle();
  }

  /** axe-core over the current page; only serious and critical violations are returned. */
  async axe(): Promise<AxeViolation[]> {
    // Evaluated through the DevTools protocol, which the page's CSP does not govern (no inline script is added).
    await this.page.evaluate(AXE_SOURCE);
    const result = (await this.page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as { violations: AxeViolation[] };
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  }

  async expectAccessible(label: string): Promise<void> {
    const v = await this.axe();
    if (v.length) throw new Error(`axe on ${label}: ${v.map((x) => `${x.id} (${x.impact}): ${x.help} at ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
  }

  async screenshot(name: string): Promise<void> {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    // Toasts of earlier steps would cover the page.
    const toasts = "document.querySelectorAll('.pf-v6-c-alert-group.pf-m-toast').forEach((e) => { e.style.visibility = '%s'; })";
    await this.page.evaluate(toasts.replace('%s', 'hidden'));
    await this.page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
    await this.page.evaluate(toasts.replace('%s', ''));
  }

  /** The value a ClipboardCopy field shows (its read-only input). */
  async copyValue(label: string): Promise<string> {
    return this.page.getByRole('textbox', { name: label, exact: true }).inputValue();
  }

  /** A toast with this text appeared. */
  async toast(text: string | RegExp): Promise<void> {
    await this.page.locator('.pf-v6-c-alert-group').getByText(text).first().waitFor();
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
