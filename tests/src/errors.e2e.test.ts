import { uuidv7 } from '@jetsaga/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api, ApiResponse } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';

let t: TestSystem;
let api: Api;
let customerId: string;
let productId: string;
let openCartId: string;
let checkedOutCartId: string;

/** Rows written by any state change: outbox rows are written in the same transaction as every change. */
async function changeCount(): Promise<number> {
  const { rows } = await t.sql.query(`
    SELECT (SELECT count(*) FROM orders.outbox) + (SELECT count(*) FROM inventory.outbox)
         + (SELECT count(*) FROM payment.outbox) + (SELECT count(*) FROM sales.outbox)
         + (SELECT count(*) FROM orders.carts) + (SELECT count(*) FROM orders.orders)
         + (SELECT count(*) FROM inventory.products) + (SELECT count(*) FROM payment.customers) AS n`);
  return Number(rows[0].n);
}

function expectProblem(response: ApiResponse, status: number, field?: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expect(response.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  if (field !== undefined) {
    expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field, reason: expect.any(String) })]));
  }
}

beforeAll(async () => {
  t = await startTestSystem();
  api = t.api;
  customerId = (await api.customer(50_000)).id;
  productId = (await api.product(20, 500)).id;
  openCartId = (await api.cart(customerId)).id;
  await api.addItem(openCartId, productId, 1);
  checkedOutCartId = (await api.cart(customerId)).id;
  await api.addItem(checkedOutCartId, productId, 1);
  await api.terminal(await api.checkout(checkedOutCartId));
});

afterAll(async () => {
  await t?.stop();
});

const customer = { name: 'Ada', email: 'ada@example.org', balanceCents: 100 };
const product = { sku: 'SKU-ERR', name: 'Lamp', priceCents: 100, stock: 1 };

describe('bad input gets a clear error and changes nothing', () => {
  const cases: Array<[string, () => Promise<ApiResponse>, number, string | undefined]> = [
    ['customer: malformed JSON', () => api.call('POST', '/api/customers', undefined, '{"name": "Ada",'), 400, ''],
    ['customer: empty body', () => api.call('POST', '/api/customers', undefined, ''), 400, ''],
    ['customer: missing name', () => api.call('POST', '/api/customers', { ...customer, name: undefined }), 400, 'name'],
    ['customer: negative balance', () => api.call('POST', '/api/customers', { ...customer, balanceCents: -1 }), 400, 'balanceCents'],
    ['customer: fractional cents', () => api.call('POST', '/api/customers', { ...customer, balanceCents: 1.5 }), 400, 'balanceCents'],
    ['customer: invalid email', () => api.call('POST', '/api/customers', { ...customer, email: 'nope' }), 400, 'email'],
    ['customer: unknown field', () => api.call('POST', '/api/customers', { ...customer, vip: true }), 400, 'vip'],
    ['customer: not an object', () => api.call('POST', '/api/customers', [customer]), 400, ''],
    ['product: negative price', () => api.call('POST', '/api/products', { ...product, priceCents: -5 }), 400, 'priceCents'],
    ['product: negative stock', () => api.call('POST', '/api/products', { ...product, stock: -1 }), 400, 'stock'],
    ['product: missing sku', () => api.call('POST', '/api/products', { ...product, sku: undefined }), 400, 'sku'],
    ['product: unknown field', () => api.call('POST', '/api/products', { ...product, colour: 'red' }), 400, 'colour'],
    ['cart: missing customerId', () => api.call('POST', '/api/carts', {}), 400, 'customerId'],
    ['cart: customerId not a UUID', () => api.call('POST', '/api/carts', { customerId: 'bob' }), 400, 'customerId'],
    ['cart: unknown customer', () => api.call('POST', '/api/carts', { customerId: uuidv7() }), 422, 'customerId'],
    ['item: quantity 0', () => api.call('POST', `/api/carts/${openCartId}/items`, { productId, quantity: 0 }), 400, 'quantity'],
    ['item: negative quantity', () => api.call('POST', `/api/carts/${openCartId}/items`, { productId, quantity: -2 }), 400, 'quantity'],
    ['item: missing productId', () => api.call('POST', `/api/carts/${openCartId}/items`, { quantity: 1 }), 400, 'productId'],
    ['item: unknown field', () => api.call('POST', `/api/carts/${openCartId}/items`, { productId, quantity: 1, gift: true }), 400, 'gift'],
    [
      'item: unknown product',
      () => api.call('POST', `/api/carts/${openCartId}/items`, { productId: uuidv7(), quantity: 1 }),
      422,
      'productId',
    ],
    ['item: unknown cart', () => api.call('POST', `/api/carts/${uuidv7()}/items`, { productId, quantity: 1 }), 404, undefined],
    ['item: checked-out cart', () => api.call('POST', `/api/carts/${checkedOutCartId}/items`, { productId, quantity: 1 }), 409, undefined],
    ['checkout: unknown cart', () => api.call('POST', `/api/carts/${uuidv7()}/checkout`), 404, undefined],
    ['checkout: already checked out', () => api.call('POST', `/api/carts/${checkedOutCartId}/checkout`), 409, undefined],
    ['order: unknown id', () => api.call('GET', `/api/orders/${uuidv7()}`), 404, undefined],
    ['order: not a UUID', () => api.call('GET', '/api/orders/42'), 404, undefined],
    ['customer: unknown id', () => api.call('GET', `/api/customers/${uuidv7()}`), 404, undefined],
    ['product: unknown id', () => api.call('GET', `/api/products/${uuidv7()}`), 404, undefined],
    ['unknown API route', () => api.call('GET', '/api/warehouses'), 404, undefined],
  ];

  it.each(cases)('%s', async (_name, request, status, field) => {
    const before = await changeCount();
    expectProblem(await request(), status, field);
    expect(await changeCount()).toBe(before);
  });

  it('refuses to check out an empty cart (409) and leaves it open', async () => {
    const empty = await api.cart(customerId);
    const before = await changeCount();
    expectProblem(await api.call('POST', `/api/carts/${empty.id}/checkout`), 409);
    expect(await changeCount()).toBe(before);
    expect((await api.call('GET', `/api/carts/${empty.id}`)).body).toMatchObject({ status: 'OPEN', items: [], totalCents: 0 });
  });

  it('refuses a second product with the same sku (409)', async () => {
    const sku = `SKU-${uuidv7()}`;
    expect((await api.call('POST', '/api/products', { ...product, sku })).status).toBe(201);
    const before = await changeCount();
    expectProblem(await api.call('POST', '/api/products', { ...product, sku }), 409);
    expect(await changeCount()).toBe(before);
  });

  it('answers the documented shapes on success', async () => {
    const created = await api.call('POST', '/api/customers', customer);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), ...customer });
    const madeProduct = await api.call('POST', '/api/products', { ...product, sku: `SKU-${uuidv7()}`, stock: 7 });
    expect(madeProduct.body).toEqual({
      id: expect.any(String),
      sku: expect.any(String),
      name: 'Lamp',
      priceCents: 100,
      available: 7,
      reserved: 0,
    });
    const cart = await api.call('POST', '/api/carts', { customerId: created.body.id });
    expect(cart.status).toBe(201);
    expect(cart.body).toMatchObject({ id: expect.any(String), customerId: created.body.id, items: [], totalCents: 0 });
    const withItem = await api.call('POST', `/api/carts/${cart.body.id}/items`, { productId: madeProduct.body.id, quantity: 3 });
    expect(withItem.status).toBe(200);
    expect(withItem.body).toMatchObject({ items: [{ productId: madeProduct.body.id, quantity: 3, priceCents: 100 }], totalCents: 300 });
  });
});
