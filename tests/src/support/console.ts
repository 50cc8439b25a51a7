import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { seriousViolations } from './browser.js';

/**
 * A console user in a real browser (tests/src/console*.e2e.test.ts): one tab at a time, each in a fresh context (its
 * own session storage, so signed out), signing in through the development sign-in page.
 */
export class ConsoleUser {
  page!: Page;
  private context: BrowserContext | undefined;

  constructor(
    private readonly browser: Browser,
    private readonly baseURL: string,
    private readonly say: (message: string) => void,
  ) {}

  /** A fresh tab, signed out; errors the page throws are printed. */
  async freshPage(viewport = { width: 1280, height: 860 }): Promise<Page> {
    await this.context?.close();
    this.context = await this.browser.newContext({ baseURL: this.baseURL, viewport });
    this.page = await this.context.newPage();
    this.page.on('pageerror', (error) => this.say(`page error: ${error.message}`));
    return this.page;
  }

  /** Signs in on the development sign-in page as a role (and subject). */
  async signInAs(role: 'customer' | 'agent' | 'admin', sub?: string, viewport?: { width: number; height: number }): Promise<Page> {
    const page = await this.freshPage(viewport);
    await page.goto('/signin');
    await page.getByLabel('Role').selectOption(role);
    if (sub) await page.getByLabel(/Subject|Customer id/).fill(sub);
    await page.getByRole('button', { name: `Sign in as ${role}` }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return page;
  }

  /** axe-core finds no serious or critical violation on the page as it is now. */
  async expectAccessible(name: string): Promise<void> {
    const violations = await seriousViolations(this.page);
    expect(
      violations.map(
        (violation) =>
          `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
      ),
      name,
    ).toEqual([]);
  }

  async close(): Promise<void> {
    await this.context?.close();
  }
}
