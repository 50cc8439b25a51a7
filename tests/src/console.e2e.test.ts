import { waitFor } from '@jetsaga/devstack';
import { eventSubject, uuidv7 } from '@jetsaga/events';
import { jetstream } from '@nats-io/jetstream';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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

/** Signs in on the development sign-in page as a role (and subject). */
async function signInAs(role: 'customer' | 'agent' | 'admin', sub?: string) {
  page = await freshPage();
  await page.goto('/signin');
  await page.getByLabel('Role').selectOption(role);
  if (sub) await page.getByLabel(/Subject|Customer id/).fill(sub);
  await page.getByRole('button', { name: `Sign in as ${role}` }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Whether the gateway has the live event stream (helper "live", issue 16's SSE contract). */
async function hasEventStream(): Promise<boolean> {
  const response = await fetch(`${t.system.gatewayUrl}/api/stream/events?type=OrderPlaced&after=0`, {
    headers: await t.api.authHeaders(),
    signal: AbortSignal.timeout(5000),
  }).catch(() => undefined);
  await response?.body?.cancel();
  return response !== undefined && response.status !== 404;
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
    await page.getByRole('heading', { name: 'Cart', exact: true }).waitFor();
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

describe('operations', () => {
  it('a PAYMENT_REFUSED saga shows its compensation on the timeline, with its sequence diagram drawn', async () => {
    const customer = await t.api.customer(100);
    const product = await t.api.product(5, 2500);
    const orderId = await t.api.buy(customer.id, product.id, 1);
    const order = await t.api.terminal(orderId);
    expect(order.reason).toBe('PAYMENT_REFUSED');
    await signInAs('agent');
    await page.goto('/ops/sagas?outcome=CANCELLED');
    await page.getByRole('link', { name: order.correlationId.slice(0, 8) }).click();
    await page.getByRole('heading', { name: `Saga ${order.correlationId}` }).waitFor();
    const timeline = page.locator('.timeline');
    await timeline.locator('[data-type="PaymentRefused"] .step.compensation').waitFor();
    await timeline.locator('[data-type="StockReleased"] .step.compensation').waitFor();
    await timeline.locator('[data-type="OrderCancelled"]').waitFor();
    const types = await timeline.locator('.timeline-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-type')));
    expect(types.indexOf('PaymentRefused')).toBeLessThan(types.indexOf('StockReleased'));
    // Mermaid is loaded on first use and draws the diagram as SVG.
    await page.getByTestId('mermaid').locator('svg').waitFor({ timeout: 20_000 });
    await expectAccessible('saga');
    await screenshot(page, 'saga');
  });

  it('a dead letter is redriven from the UI and is gone from the list', async () => {
    const orderId = uuidv7();
    await jetstream(t.nc).publish(eventSubject('reservation', orderId, 'StockReserved'), '{"poison": not json');
    const letter = await waitFor('the poison in the DLQ', async () => {
      const { body } = await t.api.call('GET', '/api/dlq?type=StockReserved');
      return (body.messages as { id: string; payload: unknown }[]).find((message) => String(message.payload).includes('poison'));
    });
    await signInAs('admin');
    await page.goto('/ops/dead-letters');
    const row = page.locator(`tr[data-id="${letter.id}"]`);
    await row.getByRole('button').click();
    await page.getByTestId('dead-letter').getByText('poison').first().waitFor();
    await expectAccessible('dead letters');
    await screenshot(page, 'dead-letters');
    await page.getByRole('button', { name: /^Redrive to / }).click();
    await row.waitFor({ state: 'detached' });
    expect((await t.api.call('GET', `/api/dlq/${letter.id}`)).status).toBe(404);
  });

  it('a projection rebuilt from the UI goes live as a new version while reads keep answering', async () => {
    const before = (await t.api.call('GET', '/api/projections')).body.projections as { name: string; version: number; state: string }[];
    const live = before.find((projection) => projection.name === 'order-summaries' && projection.state === 'LIVE')!;
    await signInAs('admin');
    await page.goto('/ops/projections');
    await page.getByRole('button', { name: 'Rebuild order-summaries' }).click();
    const statuses: number[] = [];
    let rebuilt = false;
    const reads = (async () => {
      while (!rebuilt) statuses.push((await t.api.call('GET', '/api/orders?limit=5')).status);
    })();
    await page
      .locator(`tr[data-projection="order-summaries"][data-state="LIVE"]`)
      .getByText(`v${live.version + 1}`)
      .waitFor({ timeout: 60_000 });
    rebuilt = true;
    await reads;
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set([200]));
    await expectAccessible('projections');
    await screenshot(page, 'projections');
  });

  it('a customer opens a complaint about an order; an agent assigns, starts and resolves it with a refund', async () => {
    const customer = await t.api.customer(10_000);
    const product = await t.api.product(5, 4000);
    const orderId = await t.api.buy(customer.id, product.id, 1);
    expect((await t.api.terminal(orderId)).status).toBe('COMPLETED');
    await signInAs('customer', customer.id);
    await page.goto(`/orders/${orderId}`);
    await page.getByRole('link', { name: 'Open a complaint about this order' }).click();
    await page.getByLabel('Title').fill('Scratched on arrival');
    await page.getByLabel('What happened').fill('The lid has a deep scratch.');
    await expectAccessible('new complaint');
    await page.getByRole('button', { name: 'Send the complaint' }).click();
    const id = (await page.getByRole('status').locator('code').textContent())!;

    await signInAs('agent', 'agent-ada');
    await page.goto(`/ops/complaints?id=${id}`);
    const complaint = page.getByTestId('complaint');
    await complaint.getByRole('button', { name: 'Assign' }).click();
    await complaint.getByRole('button', { name: 'Start working on it' }).click();
    await complaint.getByLabel('Resolution').fill('Partial refund for the scratch');
    await complaint.getByLabel('Refund (€, optional)').fill('12.50');
    await complaint.getByRole('button', { name: 'Resolve' }).click();
    await complaint.locator('li[data-status="REFUNDED"]').getByText('12.50 €').waitFor({ timeout: 30_000 });
    await expectAccessible('complaints');
    await screenshot(page, 'complaints');
    const stored = await t.api.getComplaint(id);
    expect(stored.status).toBe('RESOLVED');
    expect(stored.refunds).toEqual([expect.objectContaining({ amountCents: 1250, status: 'REFUNDED' })]);
  });

  it('every operations page answers and passes axe-core', async () => {
    await signInAs('admin');
    for (const [path, heading, name] of [
      ['/', 'Shop', 'shop'],
      ['/ops/orders', 'Orders', 'orders'],
      ['/ops/sagas', 'Sagas', 'sagas'],
      ['/ops/events', 'Events', 'events'],
      ['/ops/event-store', 'Event store', 'event-store'],
      ['/ops/shipments', 'Shipments', 'shipments'],
      ['/ops/settings', 'Settings', 'settings'],
      ['/orders', 'My orders', undefined],
    ] as const) {
      await page.goto(path);
      await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
      // Each page's first data has arrived (no "Loading…" left).
      await page.locator('[aria-busy="true"]').first().waitFor({ state: 'detached' });
      await expectAccessible(path);
      if (name) await screenshot(page, name);
    }
    await page.goto('/ops/event-store');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('verification').getByText('identical').waitFor();
  });

  it('the events page follows the live stream and shows an envelope', async (ctx) => {
    if (!(await hasEventStream())) ctx.skip();
    await signInAs('agent');
    await page.goto('/ops/events?type=OrderPlaced');
    await page.getByTestId('stream-state').getByText('open').waitFor();
    const customer = await t.api.customer(10_000);
    const product = await t.api.product(5, 100);
    const orderId = await t.api.buy(customer.id, product.id, 1);
    const row = page.locator('tr', { hasText: orderId.slice(0, 8) }).first();
    await row.getByRole('button', { name: 'OrderPlaced' }).click();
    await page.locator('.json', { hasText: orderId }).first().waitFor();
    await expectAccessible('events');
    await screenshot(page, 'events');
  });
});
