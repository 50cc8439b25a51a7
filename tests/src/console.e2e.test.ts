import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { launchBrowser, screenshot, seriousViolations } from './support/browser.js';
import { startTestSystem, type TestSystem } from './support/harness.js';

/**
 * The console (web/, served by the gateway) in a real Chromium against the real system: what a shopper and an
 * operator do through it, each page checked by axe-core for serious or critical accessibility violations.
 */

let t: TestSystem;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const say = (message: string) => console.log(`[console] ${message}`);

beforeAll(async () => {
  t = await startTestSystem({ GATEWAY_DEV_TOKEN_URL: inject('authTokenUrl') });
  browser = await launchBrowser();
  say(`chromium ${browser.version()}, console at ${t.system.gatewayUrl}/`);
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

/** A fresh tab (its own session storage: signed out), failing the test on any error the page logs. */
async function freshPage(): Promise<Page> {
  await context?.close();
  context = await browser.newContext({ baseURL: t.system.gatewayUrl, viewport: { width: 1280, height: 860 } });
  const tab = await context.newPage();
  tab.on('pageerror', (error) => say(`page error: ${error.message}`));
  return tab;
}

async function expectAccessible(name: string) {
  const violations = await seriousViolations(page);
  expect(
    violations.map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
    ),
    name,
  ).toEqual([]);
}

describe('served by the gateway', () => {
  it('answers the page at / and at client routes, hashed assets cached for a year, with a CSP', async () => {
    const root = await fetch(`${t.system.gatewayUrl}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/text\/html/);
    expect(root.headers.get('content-security-policy')).toMatch(/default-src 'self'.*script-src 'self'/);
    expect(root.headers.get('x-frame-options')).toBe('DENY');
    const html = await root.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const script = await fetch(`${t.system.gatewayUrl}${asset}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const client = await fetch(`${t.system.gatewayUrl}/ops/sagas/0190f1f2-0000-7000-8000-000000000000`);
    expect([client.status, await client.text()]).toEqual([200, html]);
    expect((await fetch(`${t.system.gatewayUrl}/assets/missing-0000.js`)).status).toBe(404);
    // API clients still get the index, and the API keeps its own CSP.
    const index = await fetch(`${t.system.gatewayUrl}/`, { headers: { accept: 'application/json' } });
    expect(((await index.json()) as { name: string }).name).toBe('jetsaga');
    expect((await fetch(`${t.system.gatewayUrl}/api/orders`)).headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
  });
});

describe('shop', () => {
  it('a new customer signs in, buys a product and sees the order completed on its page', async () => {
    const product = await t.api.product(10, 2500);
    page = await freshPage();
    await page.goto('/signin');
    await page.getByRole('heading', { name: 'Development sign-in' }).waitFor();
    await expectAccessible('sign-in');
    await screenshot(page, 'sign-in');
    await page.getByRole('button', { name: 'Register and sign in' }).click();
    await page.getByRole('heading', { name: 'Shop' }).waitFor();
    await page.goto(`/?product=${product.id}`);
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('heading', { name: 'Cart' }).waitFor();
    await page.getByText('Total 25.00 €').waitFor();
    await expectAccessible('cart');
    await page.getByRole('button', { name: 'Check out' }).click();
    await page.getByTestId('order-status').getByText('COMPLETED').waitFor({ timeout: 30_000 });
    const orderId = new URL(page.url()).pathname.split('/').pop()!;
    expect((await t.api.order(orderId)).status).toBe('COMPLETED');
    await expectAccessible('order');
    await screenshot(page, 'order');
  });
});
