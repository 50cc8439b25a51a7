import { uuidv7 } from '@jetsaga/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { changeCount, expectProblem, PROBLEM_CASES, type ProblemFixture, problemFixture } from './support/problems.js';

let t: TestSystem;
let api: Api;
let fixture: ProblemFixture;
let customerId: string;

beforeAll(async () => {
  t = await startTestSystem();
  api = t.api;
  fixture = await problemFixture(api);
  customerId = fixture.customerId;
});

afterAll(async () => {
  await t?.stop();
});

const customer = { name: 'Ada', email: 'ada@example.org', balanceCents: 100 };
const product = { sku: 'SKU-ERR', name: 'Lamp', priceCents: 100, stock: 1 };

describe('bad input gets a clear error and changes nothing', () => {
  it.each(PROBLEM_CASES)('%s', async (_name, request, status, field) => {
    const before = await changeCount(t.sql);
    expectProblem(await request(api, fixture), status, field);
    expect(await changeCount(t.sql)).toBe(before);
  });

  it('refuses to check out an empty cart (409) and leaves it open', async () => {
    const empty = await api.cart(customerId);
    const before = await changeCount(t.sql);
    expectProblem(await api.call('POST', `/api/carts/${empty.id}/checkout`), 409);
    expect(await changeCount(t.sql)).toBe(before);
    expect((await api.call('GET', `/api/carts/${empty.id}`)).body).toMatchObject({ status: 'OPEN', items: [], totalCents: 0 });
  });

  it('refuses a second product with the same sku (409)', async () => {
    const sku = `SKU-${uuidv7()}`;
    expect((await api.call('POST', '/api/products', { ...product, sku })).status).toBe(201);
    const before = await changeCount(t.sql);
    expectProblem(await api.call('POST', '/api/products', { ...product, sku }), 409);
    expect(await changeCount(t.sql)).toBe(before);
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
