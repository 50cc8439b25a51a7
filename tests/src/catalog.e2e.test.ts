import { waitFor } from '@jetsaga/devstack';
import { uuidv7 } from '@jetsaga/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { expectProblem } from './support/problems.js';

/**
 * ADR 0039: order answers a cart's customer and product look-ups from its own read model of CustomerRegistered and
 * ProductCreated, and asks payment or inventory only for an id that model has not seen.
 */
let t: TestSystem;

beforeAll(async () => {
  t = await startTestSystem();
});

afterAll(async () => {
  t?.system.supervisor.signal('payment', 'SIGCONT');
  t?.system.supervisor.signal('inventory', 'SIGCONT');
  await t?.stop();
});

/** order_catalog_lookups_total by `<lookup> <result>`, read from order's metrics port. */
async function lookupsAnswered(): Promise<Record<string, number>> {
  const text = await (await fetch(t.system.metricsUrls.order)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('order_catalog_lookups_total{')) continue;
    const lookup = /lookup="([^"]+)"/.exec(line)?.[1];
    const result = /result="([^"]+)"/.exec(line)?.[1];
    counts[`${lookup} ${result}`] = Number(line.trim().split(' ').at(-1));
  }
  return counts;
}

function increase(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([key, value]) => [key, value - (before[key] ?? 0)] as const)
      .filter(([, value]) => value !== 0),
  );
}

async function known(customerId: string, productId: string): Promise<boolean> {
  const { rows } = await t.sql.query(
    `SELECT (SELECT count(*) FROM orders.known_customers WHERE customer_id = $1)
          + (SELECT count(*) FROM orders.product_prices WHERE product_id = $2) AS n`,
    [customerId, productId],
  );
  return Number(rows[0].n) === 2;
}

describe("a cart's look-ups come from order's read model", () => {
  it('builds a cart while payment and inventory are frozen, once their events reached order', async () => {
    const customer = await t.api.customer(10_000);
    const product = await t.api.product(5, 1234);
    await waitFor('order to have projected the customer and the product', () => known(customer.id, product.id), 30_000);
    const before = await lookupsAnswered();
    // A frozen process accepts connections and never answers: any HTTP look-up would end in a 502 after its timeout.
    t.system.supervisor.signal('payment', 'SIGSTOP');
    t.system.supervisor.signal('inventory', 'SIGSTOP');
    try {
      const cart = await t.api.call('POST', '/api/carts', { customerId: customer.id });
      expect(cart.status).toBe(201);
      const item = await t.api.call('POST', `/api/carts/${cart.body.id}/items`, { productId: product.id, quantity: 2 });
      expect(item.status).toBe(200);
      expect(item.body).toMatchObject({ items: [{ productId: product.id, quantity: 2, priceCents: 1234 }], totalCents: 2468 });
    } finally {
      t.system.supervisor.signal('payment', 'SIGCONT');
      t.system.supervisor.signal('inventory', 'SIGCONT');
    }
    expect(increase(before, await lookupsAnswered())).toEqual({ 'customer hit': 1, 'product hit': 1 });
  });

  it('still refuses an unknown customer and an unknown product with a 422 naming the field, after asking their owners', async () => {
    const customer = await t.api.customer(10_000);
    const product = await t.api.product(5, 100);
    await waitFor('order to have projected the customer and the product', () => known(customer.id, product.id), 30_000);
    const cart = await t.api.cart(customer.id);
    const before = await lookupsAnswered();
    expectProblem(await t.api.call('POST', '/api/carts', { customerId: uuidv7() }), 422, 'customerId');
    expectProblem(await t.api.call('POST', `/api/carts/${cart.id}/items`, { productId: uuidv7(), quantity: 1 }), 422, 'productId');
    expect(increase(before, await lookupsAnswered())).toEqual({ 'customer unknown': 1, 'product unknown': 1 });
  });

  it('accepts a customer and a product their owners know but order has not seen, by asking the owners', async () => {
    // Rows only the owners have, with no event: what a request sees before the owner's event reached order.
    const customerId = uuidv7();
    const productId = uuidv7();
    await t.sql.query(`INSERT INTO payment.customers (id, name, email, balance_cents) VALUES ($1, 'Late', 'late@example.org', 500)`, [
      customerId,
    ]);
    await t.sql.query(
      `INSERT INTO inventory.products (id, sku, name, price_cents, available, reserved) VALUES ($1, $2, 'Late lamp', 4321, 3, 0)`,
      [productId, `SKU-${productId}`],
    );
    const before = await lookupsAnswered();
    const cart = await t.api.call('POST', '/api/carts', { customerId });
    expect(cart.status).toBe(201);
    const item = await t.api.call('POST', `/api/carts/${cart.body.id}/items`, { productId, quantity: 1 });
    expect(item.status).toBe(200);
    expect(item.body).toMatchObject({ items: [{ productId, quantity: 1, priceCents: 4321 }], totalCents: 4321 });
    expect(increase(before, await lookupsAnswered())).toEqual({ 'customer miss': 1, 'product miss': 1 });
    expect(await known(customerId, productId)).toBe(false);
  });
});
