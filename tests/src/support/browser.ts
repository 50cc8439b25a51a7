import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '@jetsaga/devstack';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's Chromium: Playwright drives it through `executablePath` and downloads no browser of its own. */
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const isRoot = process.getuid?.() === 0;

/** Installs Debian's chromium when it is missing and we may (root): once per machine, about a minute. */
export function ensureChromium(say: (message: string) => void = console.log): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (!isRoot) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (or set CHROMIUM_BIN)`);
  say('installing Debian chromium (apt-get, once per machine)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  if (install.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  }
  if (install.status !== 0 || !existsSync(CHROMIUM)) throw new Error('apt-get install chromium failed');
  return CHROMIUM;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: ensureChromium(), headless: true, args: isRoot ? ['--no-sandbox'] : [] });
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export type AxeViolation = { id: string; impact: string | null; help: string; nodes: { target: string[] }[] };

/**
 * axe-core's serious and critical violations of the page as it is now (WCAG 2.x A and AA rules and best practices).
 * axe is evaluated through the DevTools protocol, which the page's CSP (scripts from the gateway only) does not
 * govern; an injected script tag would be refused.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE);
  const violations = (await page.evaluate(`(async () => {
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map(({ id, impact, help, nodes }) => ({ id, impact, help, nodes: nodes.map((node) => ({ target: node.target })) }));
  })()`)) as AxeViolation[];
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

export const SCREENSHOTS = join(REPO_ROOT, 'docs', 'screenshots');

/** A screenshot of the page for the README (docs/screenshots/<name>.png). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
