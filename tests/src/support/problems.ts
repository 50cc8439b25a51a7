import { uuidv7 } from '@jetsaga/events';
import type pg from 'pg';
import { expect } from 'vitest';
import type { Api, ApiResponse } from './api.js';
import { type TestSystem, waitForQuiet } from './harness.js';

/** An RFC 9457 problem+json answer with this status (and, when given, a field-level error naming `field`). */
export function expectProblem(response: ApiResponse, status: number, field?: string): void {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expect(response.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  if (field !== undefined) {
    expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field, reason: expect.any(String) })]));
  }
}

/** Outbox rows ever written to a schema (its position sequence): rows are deleted once published, the count is not. */
const outboxWrites = (schema: string) => `(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ${schema}.outbox_position_seq)`;

/**
 * Rows written by any state change: every change writes outbox rows in its transaction (counted by the outbox's
 * sequence, since published rows are deleted), plus the state tables themselves.
 */
export async function changeCount(sql: Pick<pg.Pool, 'query'>): Promise<number> {
  const { rows } = await sql.query(`
    SELECT ${['orders', 'inventory', 'payment', 'sales', 'support', 'shipping', 'notification'].map(outboxWrites).join(' + ')}
         + (SELECT count(*) FROM orders.carts) + (SELECT count(*) FROM orders.orders)
         + (SELECT count(*) FROM inventory.products) + (SELECT count(*) FROM payment.customers)
         + (SELECT count(*) FROM support.complaints) + (SELECT count(*) FROM support.complaint_timeline)
         + (SELECT count(*) FROM support.refunds)
         + (SELECT count(*) FROM shipping.shipments) + (SELECT count(*) FROM shipping.shipment_timeline)
         + (SELECT count(*) FROM notification.notifications) + (SELECT count(*) FROM notification.preferences) AS n`);
  return Number(rows[0].n);
}

/**
 * The change count once the system is quiet: what earlier requests set off (emails, parcels, audit entries) has
 * happened, so a count taken after a refused request differs only if that request changed something.
 */
export async function quietChangeCount(t: Pick<TestSystem, 'nc' | 'sql'>): Promise<number> {
  await waitForQuiet(t);
  return changeCount(t.sql);
}

/**
 * What the bad requests refer to: a customer, a product, a cart still open and one already checked out, a complaint
 * just opened and one in progress that names no order.
 */
export type ProblemFixture = {
  customerId: string;
  productId: string;
  openCartId: string;
  checkedOutCartId: string;
  openComplaintId: string;
  orderlessComplaintId: string;
};

export async function problemFixture(api: Api): Promise<ProblemFixture> {
  const customerId = (await api.customer(50_000)).id;
  const productId = (await api.product(20, 500)).id;
  const openCartId = (await api.cart(customerId)).id;
  await api.addItem(openCartId, productId, 1);
  const checkedOutCartId = (await api.cart(customerId)).id;
  await api.addItem(checkedOutCartId, productId, 1);
  await api.terminal(await api.checkout(checkedOutCartId));
  const openComplaintId = (await api.complaint({ ...complaint, customerId })).id;
  const orderlessComplaintId = (await api.complaint({ ...complaint, customerId })).id;
  await api.ok('POST', `/api/complaints/${orderlessComplaintId}/assign`, { agent: 'agent-1' });
  await api.ok('POST', `/api/complaints/${orderlessComplaintId}/start`);
  return { customerId, productId, openCartId, checkedOutCartId, openComplaintId, orderlessComplaintId };
}

/** A complaint as a customer would file it (no order named). */
export const complaint = { title: 'Late answer', description: 'Nobody called back', priority: 'LOW', category: 'SERVICE' } as const;

export type ProblemCase = [
  name: string,
  request: (api: Api, fixture: ProblemFixture) => Promise<ApiResponse>,
  status: number,
  field: string | undefined,
];

const customer = { name: 'Ada', email: 'ada@example.org', balanceCents: 100 };
const address = { line1: '1 rue de la Paix', city: 'Paris', postalCode: '75002', country: 'FR' };
const product = { sku: 'SKU-ERR', name: 'Lamp', priceCents: 100, stock: 1 };

/** Every documented kind of bad request through the gateway, with the status and field its problem must name. */
export const PROBLEM_CASES: readonly ProblemCase[] = [
  ['customer: malformed JSON', (api) => api.call('POST', '/api/customers', undefined, '{"name": "Ada",'), 400, ''],
  ['customer: empty body', (api) => api.call('POST', '/api/customers', undefined, ''), 400, ''],
  ['customer: missing name', (api) => api.call('POST', '/api/customers', { ...customer, name: undefined }), 400, 'name'],
  ['customer: negative balance', (api) => api.call('POST', '/api/customers', { ...customer, balanceCents: -1 }), 400, 'balanceCents'],
  ['customer: fractional cents', (api) => api.call('POST', '/api/customers', { ...customer, balanceCents: 1.5 }), 400, 'balanceCents'],
  ['customer: invalid email', (api) => api.call('POST', '/api/customers', { ...customer, email: 'nope' }), 400, 'email'],
  ['customer: unknown field', (api) => api.call('POST', '/api/customers', { ...customer, vip: true }), 400, 'vip'],
  ['customer: not an object', (api) => api.call('POST', '/api/customers', [customer]), 400, ''],
  [
    'customer: address country not ISO alpha-2',
    (api) => api.call('POST', '/api/customers', { ...customer, address: { ...address, country: 'France' } }),
    400,
    'address.country',
  ],
  [
    'customer: address without city',
    (api) => api.call('POST', '/api/customers', { ...customer, address: { ...address, city: undefined } }),
    400,
    'address.city',
  ],
  ['product: negative price', (api) => api.call('POST', '/api/products', { ...product, priceCents: -5 }), 400, 'priceCents'],
  ['product: negative stock', (api) => api.call('POST', '/api/products', { ...product, stock: -1 }), 400, 'stock'],
  ['product: missing sku', (api) => api.call('POST', '/api/products', { ...product, sku: undefined }), 400, 'sku'],
  ['product: unknown field', (api) => api.call('POST', '/api/products', { ...product, colour: 'red' }), 400, 'colour'],
  ['cart: missing customerId', (api) => api.call('POST', '/api/carts', {}), 400, 'customerId'],
  ['cart: customerId not a UUID', (api) => api.call('POST', '/api/carts', { customerId: 'bob' }), 400, 'customerId'],
  ['cart: unknown customer', (api) => api.call('POST', '/api/carts', { customerId: uuidv7() }), 422, 'customerId'],
  [
    'item: quantity 0',
    (api, f) => api.call('POST', `/api/carts/${f.openCartId}/items`, { productId: f.productId, quantity: 0 }),
    400,
    'quantity',
  ],
  [
    'item: negative quantity',
    (api, f) => api.call('POST', `/api/carts/${f.openCartId}/items`, { productId: f.productId, quantity: -2 }),
    400,
    'quantity',
  ],
  ['item: missing productId', (api, f) => api.call('POST', `/api/carts/${f.openCartId}/items`, { quantity: 1 }), 400, 'productId'],
  [
    'item: unknown field',
    (api, f) => api.call('POST', `/api/carts/${f.openCartId}/items`, { productId: f.productId, quantity: 1, gift: true }),
    400,
    'gift',
  ],
  [
    'item: unknown product',
    (api, f) => api.call('POST', `/api/carts/${f.openCartId}/items`, { productId: uuidv7(), quantity: 1 }),
    422,
    'productId',
  ],
  [
    'item: unknown cart',
    (api, f) => api.call('POST', `/api/carts/${uuidv7()}/items`, { productId: f.productId, quantity: 1 }),
    404,
    undefined,
  ],
  [
    'item: checked-out cart',
    (api, f) => api.call('POST', `/api/carts/${f.checkedOutCartId}/items`, { productId: f.productId, quantity: 1 }),
    409,
    undefined,
  ],
  ['checkout: unknown cart', (api) => api.call('POST', `/api/carts/${uuidv7()}/checkout`), 404, undefined],
  [
    'checkout: shippingAddress with an unknown field',
    (api, f) => api.call('POST', `/api/carts/${f.openCartId}/checkout`, { shippingAddress: { ...address, floor: 3 } }),
    400,
    'shippingAddress.floor',
  ],
  ['checkout: already checked out', (api, f) => api.call('POST', `/api/carts/${f.checkedOutCartId}/checkout`), 409, undefined],
  ['order: unknown id', (api) => api.call('GET', `/api/orders/${uuidv7()}`), 404, undefined],
  ['order: not a UUID', (api) => api.call('GET', '/api/orders/42'), 404, undefined],
  ['customer: unknown id', (api) => api.call('GET', `/api/customers/${uuidv7()}`), 404, undefined],
  ['product: unknown id', (api) => api.call('GET', `/api/products/${uuidv7()}`), 404, undefined],
  ['unknown API route', (api) => api.call('GET', '/api/warehouses'), 404, undefined],
  ['complaint: malformed JSON', (api) => api.call('POST', '/api/complaints', undefined, '{"title":'), 400, ''],
  [
    'complaint: missing title',
    (api, f) => api.call('POST', '/api/complaints', { ...complaint, customerId: f.customerId, title: undefined }),
    400,
    'title',
  ],
  [
    'complaint: blank description',
    (api, f) => api.call('POST', '/api/complaints', { ...complaint, customerId: f.customerId, description: '  ' }),
    400,
    'description',
  ],
  [
    'complaint: unknown priority',
    (api, f) => api.call('POST', '/api/complaints', { ...complaint, customerId: f.customerId, priority: 'URGENT' }),
    400,
    'priority',
  ],
  [
    'complaint: customerId not a UUID',
    (api) => api.call('POST', '/api/complaints', { ...complaint, customerId: 'bob' }),
    400,
    'customerId',
  ],
  [
    'complaint: orderId not a UUID',
    (api, f) => api.call('POST', '/api/complaints', { ...complaint, customerId: f.customerId, orderId: 7 }),
    400,
    'orderId',
  ],
  [
    'complaint: unknown field',
    (api, f) => api.call('POST', '/api/complaints', { ...complaint, customerId: f.customerId, vip: true }),
    400,
    'vip',
  ],
  ['complaints: unknown status filter', (api) => api.call('GET', '/api/complaints?status=LOST'), 400, 'status'],
  ['complaints: limit 0', (api) => api.call('GET', '/api/complaints?limit=0'), 400, 'limit'],
  ['complaints: a cursor it never returned', (api) => api.call('GET', '/api/complaints?after=nope'), 400, 'after'],
  ['complaints: unknown filter', (api) => api.call('GET', '/api/complaints?colour=red'), 400, 'colour'],
  ['complaint: unknown id', (api) => api.call('GET', `/api/complaints/${uuidv7()}`), 404, undefined],
  ['complaint: not a UUID', (api) => api.call('GET', '/api/complaints/42'), 404, undefined],
  ['assign: missing agent', (api, f) => api.call('POST', `/api/complaints/${f.openComplaintId}/assign`, {}), 400, 'agent'],
  ['assign: unknown complaint', (api) => api.call('POST', `/api/complaints/${uuidv7()}/assign`, { agent: 'a' }), 404, undefined],
  ['start: an OPEN complaint', (api, f) => api.call('POST', `/api/complaints/${f.openComplaintId}/start`), 409, undefined],
  [
    'resolve: an OPEN complaint',
    (api, f) => api.call('POST', `/api/complaints/${f.openComplaintId}/resolve`, { resolution: 'done' }),
    409,
    undefined,
  ],
  ['close: an OPEN complaint', (api, f) => api.call('POST', `/api/complaints/${f.openComplaintId}/close`), 409, undefined],
  ['resolve: missing resolution', (api, f) => api.call('POST', `/api/complaints/${f.orderlessComplaintId}/resolve`, {}), 400, 'resolution'],
  [
    'resolve: refund of 0 cents',
    (api, f) => api.call('POST', `/api/complaints/${f.orderlessComplaintId}/resolve`, { resolution: 'r', refundCents: 0 }),
    400,
    'refundCents',
  ],
  [
    'resolve: fractional refund',
    (api, f) => api.call('POST', `/api/complaints/${f.orderlessComplaintId}/resolve`, { resolution: 'r', refundCents: 1.5 }),
    400,
    'refundCents',
  ],
  [
    'resolve: a refund for a complaint with no order',
    (api, f) => api.call('POST', `/api/complaints/${f.orderlessComplaintId}/resolve`, { resolution: 'r', refundCents: 100 }),
    422,
    'refundCents',
  ],
];

/** Which services a gateway for the upstream cases must find down, and how: nothing listening, or hanging up. */
export const DOWN_UPSTREAMS = { sales: 'refused', payment: 'hang-up' } as const;

export type UpstreamProblemCase = [name: string, request: (api: Api) => Promise<ApiResponse>, status: number];

/**
 * A service behind the gateway that does not answer is a 502 problem, never a hang, a bare socket error or a 500.
 * They run against a gateway whose upstreams in DOWN_UPSTREAMS are down (errors.e2e starts one beside the system).
 */
export const UPSTREAM_PROBLEM_CASES: readonly UpstreamProblemCase[] = [
  ['sales refuses the connection: sales summary', (api) => api.call('GET', '/api/sales/summary'), 502],
  ['payment hangs up without answering: new customer', (api) => api.call('POST', '/api/customers', customer), 502],
  ['payment hangs up without answering: a customer', (api) => api.call('GET', `/api/customers/${uuidv7()}`), 502],
];
