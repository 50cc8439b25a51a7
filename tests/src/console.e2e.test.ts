import { waitFor } from '@jetsaga/devstack';
import { eventSubject, uuidv7 } from '@jetsaga/events';
import { jetstream } from '@nats-io/jetstream';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchBrowser, screenshot } from './support/browser.js';
import { ConsoleUser } from './support/console.js';
import { startTestSystem, type TestSystem } from './support/harness.js';

/**
 * The console (web/, served by the gateway) in a real Chromium against the real system: what a shopper and an
 * operator do through it, each page checked by axe-core for serious or critical accessibility violations.
 */

let t: TestSystem;
let browser: Browser;
let user: ConsoleUser;
let page: Page;
const say = (message: string) => console.log(`[console] ${message}`);

beforeAll(async () => {
  t = await startTestSystem({ GATEWAY_DEV_TOKEN_URL: inject('authTokenUrl') });
  browser = await launchBrowser();
  user = new ConsoleUser(browser, t.system.gatewayUrl, say);
  say(`chromium ${browser.version()}, console at ${t.system.gatewayUrl}/`);
});

afterAll(async () => {
  await user?.close();
  await browser?.close();
  await t?.stop();
});

const freshPage = () => user.freshPage();
const signInAs = async (role: 'customer' | 'agent' | 'admin', sub?: string) => {
  page = await user.signInAs(role, sub);
};

const expectAccessible = (name: string) => user.expectAccessible(name);

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

/**
 * Records, in the page, each saga step as it is added to the order page's list: what arrived live, in that order. (A
 * script as text: the tests are compiled without the DOM's types.)
 */
const recordSteps = () =>
  page.evaluate(`(() => {
    const seen = (window.recordedSteps = []);
    new MutationObserver((mutations) => {
      for (const mutation of mutations)
        for (const node of mutation.addedNodes)
          if (node instanceof Element)
            for (const item of [node, ...node.querySelectorAll('[data-type]')])
              if (item.matches('ol.steps > li[data-type]')) seen.push(item.getAttribute('data-type'));
    }).observe(document.body, { childList: true, subtree: true });
  })()`);
const recorded = () => page.evaluate('window.recordedSteps') as Promise<string[]>;

describe('shop', () => {
  it('a new customer buys a product and follows the saga live on the order page, then the parcel dispatched and delivered', async () => {
    const product = await t.api.product(10, 2500);
    page = await freshPage();
    await page.goto('/signin');
    await page.getByRole('heading', { name: 'Development sign-in' }).waitFor();
    await expectAccessible('sign-in');
    await screenshot(page, 'sign-in');
    await page.getByRole('button', { name: 'Register and sign in' }).click();
    await page.getByRole('heading', { name: 'Shop' }).waitFor();
    // The shop lists the catalogue to a customer too.
    await page.getByRole('table', { name: 'Products' }).locator(`a[href="/?product=${product.id}"]`).waitFor();
    await expectAccessible('shop, as a customer');
    await page.goto(`/?product=${product.id}`);
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('heading', { name: 'Cart', exact: true }).waitFor();
    await page.getByText('Total 25.00 €').waitFor();
    await expectAccessible('cart');
    await recordSteps();
    await page.getByRole('button', { name: 'Check out' }).click();
    await page.getByTestId('order-status').getByText('COMPLETED').waitFor({ timeout: 30_000 });
    const orderId = new URL(page.url()).pathname.split('/').pop()!;
    const order = await t.api.order(orderId);
    expect(order.status).toBe('COMPLETED');

    // Each step of the saga was added to the page as its event arrived (the page never reloaded), in the order the event
    // store has them.
    const stepsOf = async () =>
      (await t.api.call<{ steps: { type: string }[] }>('GET', `/api/sagas/${order.correlationId}`)).body.steps.map((step) => step.type);
    let last = '';
    const steps = await waitFor('every step on the page', async () => {
      const [expected, shown] = [await stepsOf(), await recorded()];
      last = `the event store has ${expected.join()}; the page added ${shown.join()}`;
      return expected.join() === shown.join() && expected.includes('ShipmentCreated') ? expected : undefined;
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}: ${last}`);
    });
    expect(steps).toEqual(
      expect.arrayContaining(['StockReserved', 'PaymentAccepted', 'SaleConfirmed', 'OrderCompleted', 'ShipmentCreated']),
    );

    // The parcel: an agent dispatches and delivers it while the customer watches; each step appears as it happens.
    const shipment = await waitFor('the parcel of the order', async () => {
      const { body } = await t.api.call<{ shipments: { id: string }[] }>('GET', `/api/shipments?orderId=${orderId}`);
      return body.shipments[0];
    });
    await page.getByTestId('parcel-stream').getByText('open').waitFor();
    const list = page.getByRole('list', { name: 'Saga steps' });
    expect(await list.locator('li[data-type="ShipmentDispatched"]').count()).toBe(0);
    const trackingNumber = `TRK-${shipment.id.slice(0, 8)}`;
    const dispatched = await t.api.call('POST', `/api/shipments/${shipment.id}/dispatch`, { carrier: 'La Poste', trackingNumber });
    expect(dispatched.status).toBe(200);
    await list.locator('li[data-type="ShipmentDispatched"]').getByText('dispatched', { exact: true }).waitFor();
    await page.getByRole('definition').getByText(trackingNumber).waitFor();
    expect(await list.locator('li[data-type="ShipmentDelivered"]').count()).toBe(0);
    expect((await t.api.call('POST', `/api/shipments/${shipment.id}/deliver`)).status).toBe(200);
    await list.locator('li[data-type="ShipmentDelivered"]').getByText('delivered', { exact: true }).waitFor();
    await page.getByLabel('Parcel', { exact: true }).getByText('DELIVERED').waitFor();
    expect((await recorded()).slice(-2)).toEqual(['ShipmentDispatched', 'ShipmentDelivered']);
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
    await page.getByRole('link', { name: order.correlationId.slice(0, 8), exact: true }).click();
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
      ['/ops/dead-letters', 'Dead letters', undefined],
      ['/ops/projections', 'Projections', undefined],
      ['/ops/event-store', 'Event store', 'event-store'],
      ['/ops/shipments', 'Shipments', 'shipments'],
      ['/ops/complaints', 'Complaints', undefined],
      ['/ops/audit', 'Audit', 'audit'],
      ['/ops/notifications', 'Notifications', 'notifications'],
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
    // The audit trail: its chain verified intact, an order's trail, a search by correlation id.
    const orders = (await t.api.call<{ orders: { id: string; correlationId: string }[] }>('GET', '/api/orders?status=COMPLETED&limit=1'))
      .body.orders;
    const [order] = orders;
    expect(order).toBeDefined();
    await page.goto('/ops/audit');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('audit-verdict').getByText('INTACT').waitFor();
    await page.getByLabel('Aggregate id').fill(order!.id);
    await page.getByRole('button', { name: 'Show the trail' }).click();
    const trail = page.getByRole('table', { name: 'Trail' });
    await trail.getByRole('button', { name: 'OrderPlaced' }).waitFor();
    await trail.getByRole('button', { name: 'OrderCompleted' }).click();
    await page.locator('.json', { hasText: order!.correlationId }).first().waitFor();
    await page.getByLabel('Correlation id').fill(order!.correlationId);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('table', { name: 'Audit entries found' }).getByRole('button', { name: 'PaymentAccepted' }).waitFor();
    await expectAccessible('audit, searched');
    // The order's emails: its confirmation sent.
    await page.goto(`/ops/notifications?orderId=${order!.id}`);
    await page.getByRole('table', { name: 'Notifications' }).locator('tr', { hasText: 'order-completed' }).getByText('SENT').waitFor();
  });

  it('the events page follows the live stream filtered by type, pauses and resumes, and shows an envelope', async () => {
    await signInAs('agent');
    await page.goto('/ops/events?type=OrderPlaced');
    await page.getByTestId('stream-state').getByText('open').waitFor();
    const customer = await t.api.customer(10_000);
    const product = await t.api.product(5, 100);
    const orderId = await t.api.buy(customer.id, product.id, 1);
    const row = page.locator('tr', { hasText: orderId.slice(0, 8) }).first();
    await row.getByRole('button', { name: 'OrderPlaced' }).click();
    await page.locator('.json', { hasText: orderId }).first().waitFor();
    const types = () => page.getByRole('table', { name: 'Events, newest first' }).locator('tbody tr td:nth-child(2)').allTextContents();
    expect(new Set(await types())).toEqual(new Set(['OrderPlaced']));
    await expectAccessible('events');
    await screenshot(page, 'events');
    // Paused: what arrives is held, not shown; resumed: it is there, newest first, with its envelope.
    const rows = page.getByRole('table', { name: 'Events, newest first' }).locator('tbody tr');
    const before = await rows.count();
    await page.getByRole('button', { name: 'Pause' }).click();
    const later = await t.api.buy(customer.id, product.id, 1);
    await page.getByRole('button', { name: 'Resume (1 waiting)' }).waitFor();
    expect(await rows.count()).toBe(before);
    await page.getByRole('button', { name: 'Resume (1 waiting)' }).click();
    await expect.poll(() => rows.count()).toBe(before + 1);
    await rows.first().getByRole('button', { name: 'OrderPlaced' }).click();
    await page.locator('.json', { hasText: later }).first().waitFor();
    expect(new Set(await types())).toEqual(new Set(['OrderPlaced']));
  });
});

describe('a large read model', () => {
  it('the Orders page pages through 100,000 orders by the server cursor, one page at a time', async () => {
    // 100,000 order summaries written straight into the live order-summaries table (what 100,000 sagas would leave).
    const { rows } = await t.sql.query<{ version: number }>(
      "SELECT version FROM eventstore.projections WHERE name = 'order-summaries' AND state = 'LIVE'",
    );
    const table = `eventstore.p_order_summaries_orders_v${rows[0]!.version}`;
    const seeded = await t.sql.query(
      `INSERT INTO ${table} (order_id, customer_id, status, total_cents, line_count, correlation_id, placed_at, ended_at)
       SELECT md5('console-100k-' || i)::uuid, md5('console-customer-' || (i % 5000))::uuid,
              (ARRAY['COMPLETED', 'CANCELLED', 'PENDING'])[1 + i % 3], 100 * i, 1 + i % 4, md5('console-100k-' || i)::uuid,
              now() - i * interval '1 second', NULL
       FROM generate_series(1, 100000) AS i`,
    );
    expect(seeded.rowCount).toBe(100_000);
    try {
      await signInAs('agent');
      const requests: URL[] = [];
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.pathname === '/api/orders') requests.push(url);
      });
      // What the API itself answers for the first two pages: the page must show exactly these.
      const first = (await t.api.call<{ orders: { id: string }[]; next: string }>('GET', '/api/orders?limit=50')).body;
      const second = (await t.api.call<{ orders: { id: string }[] }>('GET', `/api/orders?limit=50&after=${first.next}`)).body;
      const shown = () => page.getByRole('table').last().locator('tbody tr td:first-child code').allTextContents();
      await page.goto('/ops/orders');
      await page.getByText('page 1', { exact: true }).waitFor();
      await page.locator('tbody tr').nth(49).waitFor();
      expect(await shown()).toEqual(first.orders.map((order) => order.id.slice(0, 8)));
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByText('page 2', { exact: true }).waitFor();
      await expect.poll(shown).toEqual(second.orders.map((order) => order.id.slice(0, 8)));
      await expectAccessible('orders, page 2');
      // One request per page shown, each for one page of 50: the client never asks for everything.
      expect(requests.map((url) => [url.searchParams.get('limit'), url.searchParams.get('after')])).toEqual([
        ['50', null],
        ['50', first.next],
      ]);
    } finally {
      await t.sql.query(
        `DELETE FROM ${table} WHERE order_id IN (SELECT md5('console-100k-' || i)::uuid FROM generate_series(1, 100000) AS i)`,
      );
    }
  });
});
