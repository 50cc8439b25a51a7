import { waitFor } from '@jetsaga/devstack';
import { uuidv7 } from '@jetsaga/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api, ApiResponse } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { changeCount, quietChangeCount, expectProblem } from './support/problems.js';
import { HOME, type Shipment, type ShippingApi, shippingApi } from './support/shipping.js';

/** Short enough to watch a parcel miss it, long enough for a dispatch and a delivery to happen well before it. */
const SHIPMENT_DEADLINE_MS = 3000;

let t: TestSystem;
let api: Api;
let shipping: ShippingApi;

beforeAll(async () => {
  t = await startTestSystem({ SHIPMENT_DEADLINE_MS: String(SHIPMENT_DEADLINE_MS) });
  api = t.api;
  shipping = shippingApi(api);
});

afterAll(async () => {
  await t?.stop();
});

const ok = async <T>(response: Promise<ApiResponse<T>>): Promise<T> => {
  const { status, body } = await response;
  expect(status, JSON.stringify(body)).toBeLessThan(300);
  return body;
};

/** A completed order and its parcel, still CREATED. */
async function parcel(
  stock = 10,
  quantity = 1,
  priceCents = 1_200,
): Promise<{ shipment: Shipment; productId: string; customerId: string }> {
  const customer = await shipping.customer(100_000);
  const product = await api.product(stock, priceCents);
  const orderId = await shipping.buy(customer.id, product.id, quantity);
  expect((await api.terminal(orderId)).status).toBe('COMPLETED');
  return { shipment: await shipping.of(orderId), productId: product.id, customerId: customer.id };
}

const fulfilmentOf = (orderId: string, expected: string) =>
  waitFor(
    `order ${orderId} fulfilment ${expected}`,
    async () => {
      const order = (await api.call('GET', `/api/orders/${orderId}`)).body as { fulfilment?: string };
      return order.fulfilment === expected ? order : undefined;
    },
    30_000,
  );

describe('parcels after the sale, through the gateway', () => {
  it("goes to the checkout's shipping address when it names one, else to the customer's own", async () => {
    const customer = await shipping.customer(50_000);
    expect(await ok(api.call('GET', `/api/customers/${customer.id}`))).toMatchObject({ address: HOME });
    const product = await api.product(10, 500);
    const office = { line1: '221B Baker Street', line2: 'Flat B', city: 'London', postalCode: 'NW1 6XE', country: 'GB' };
    const toOffice = await shipping.buy(customer.id, product.id, 1, office);
    const toHome = await shipping.buy(customer.id, product.id, 1);
    expect((await shipping.of(toOffice)).address).toEqual(office);
    expect((await shipping.of(toHome)).address).toEqual(HOME);
  });

  it('opens one parcel per completed order, dispatched then delivered, with its timeline and the order following it', async () => {
    const { shipment } = await parcel();
    expect(shipment).toMatchObject({ status: 'CREATED', carrier: null, trackingNumber: null, incidents: [], address: HOME });
    await fulfilmentOf(shipment.orderId, 'PENDING');
    const dispatched = await ok(shipping.dispatch(shipment.id, 'Colissimo', 'CO123456789FR'));
    expect(dispatched).toMatchObject({ status: 'DISPATCHED', carrier: 'Colissimo', trackingNumber: 'CO123456789FR' });
    await fulfilmentOf(shipment.orderId, 'DISPATCHED');
    const delivered = await ok(shipping.deliver(shipment.id));
    expect(delivered.status).toBe('DELIVERED');
    expect(delivered.timeline.map((entry) => entry.type)).toEqual(['ShipmentCreated', 'ShipmentDispatched', 'ShipmentDelivered']);
    expect(delivered.timeline[1]?.actor).toMatch(/^admin:/);
    await fulfilmentOf(shipment.orderId, 'DELIVERED');
    const { shipments } = await shipping.list(`status=DELIVERED&orderId=${shipment.orderId}`);
    expect(shipments.map((s) => s.id)).toEqual([shipment.id]);
  });

  it('gets a DELAYED incident by itself when it is not delivered within SHIPMENT_DEADLINE_MS of its dispatch', async () => {
    const { shipment } = await parcel();
    await ok(shipping.dispatch(shipment.id));
    const delayed = await shipping.until(
      shipment.id,
      'with a DELAYED incident',
      (s) => s.status === 'INCIDENT',
      SHIPMENT_DEADLINE_MS + 20_000,
    );
    expect(delayed.incidents).toMatchObject([{ kind: 'DELAYED', automatic: true, status: 'OPEN' }]);
    expect(delayed.timeline.at(-1)).toMatchObject({ type: 'IncidentReported', actor: 'deadline' });
    await fulfilmentOf(shipment.orderId, 'INCIDENT');
    // Resolved NONE, it is back in transit, and can be delivered.
    const resumed = await ok(shipping.resolve(shipment.id, delayed.incidents[0]!.incidentId, 'NONE', 'it turned up'));
    expect(resumed.status).toBe('DISPATCHED');
    expect((await ok(shipping.deliver(shipment.id))).status).toBe('DELIVERED');
  });

  it('damaged on delivery -> RESHIP: inventory takes the lines again and a replacement parcel replaces it', async () => {
    const { shipment, productId } = await parcel(10, 2);
    await ok(shipping.dispatch(shipment.id));
    await ok(shipping.deliver(shipment.id));
    const { incidentId } = await ok(shipping.report(shipment.id, 'DAMAGED'));
    await fulfilmentOf(shipment.orderId, 'INCIDENT');
    const requested = await ok(shipping.resolve(shipment.id, incidentId, 'RESHIP', 'a new one'));
    expect(requested.incidents[0]).toMatchObject({ status: 'RESHIP_REQUESTED' });
    const replaced = await shipping.until(shipment.id, 'REPLACED', (s) => s.status === 'REPLACED');
    expect(replaced.incidents[0]).toMatchObject({ status: 'RESOLVED', resolution: 'RESHIP', requested: 'RESHIP', amountCents: 0 });
    const replacementId = replaced.incidents[0]!.replacementShipmentId!;
    expect(replaced.replacedBy).toBe(replacementId);
    const replacement = await shipping.until(replacementId, 'opened', () => true);
    expect(replacement).toMatchObject({ status: 'CREATED', orderId: shipment.orderId, replacesShipmentId: shipment.id, address: HOME });
    expect(replacement.lines).toEqual(shipment.lines);
    // 10 in stock, 2 sold, 2 more for the replacement.
    await waitFor('the replacement to leave the shelf', async () => (await api.getProduct(productId)).available === 6);
    expect((await api.getProduct(productId)).reserved).toBe(0);
    await fulfilmentOf(shipment.orderId, 'PENDING');
    expect((await shipping.list(`orderId=${shipment.orderId}`)).shipments.map((s) => s.status).sort()).toEqual(['CREATED', 'REPLACED']);
  });

  it('lost -> RESHIP with no stock left becomes a REFUND of the lines (OUT_OF_STOCK): payment refunds it, the balance is restored', async () => {
    const { shipment, productId, customerId } = await parcel(1, 1, 2_500);
    expect((await api.getCustomer(customerId)).balanceCents).toBe(100_000 - 2_500);
    await ok(shipping.dispatch(shipment.id));
    const { incidentId } = await ok(shipping.report(shipment.id, 'LOST'));
    await ok(shipping.resolve(shipment.id, incidentId, 'RESHIP'));
    const refunded = await shipping.until(shipment.id, 'resolved', (s) => s.incidents[0]?.status === 'RESOLVED');
    expect(refunded.incidents[0]).toMatchObject({
      resolution: 'REFUND',
      requested: 'RESHIP',
      reason: 'OUT_OF_STOCK',
      amountCents: 2_500,
      refund: { status: expect.stringMatching(/^(PENDING|REFUNDED)$/) },
    });
    expect(refunded.timeline.map((entry) => entry.type)).toEqual(
      expect.arrayContaining(['IncidentReported', 'ReshipmentRequested', 'IncidentResolved']),
    );
    expect(await api.getProduct(productId)).toMatchObject({ available: 0, reserved: 0 });
    // Support asks payment for the refund (RefundRequested); payment gives it back and the parcel ends REFUNDED.
    const done = await shipping.until(shipment.id, 'REFUNDED', (s) => s.status === 'REFUNDED');
    expect(done.incidents[0]?.refund).toMatchObject({ status: 'REFUNDED', amountCents: 2_500, refundId: expect.any(String) });
    expect(done.timeline.at(-1)).toMatchObject({ type: 'ShipmentRefunded' });
    await waitFor('the balance to be restored', async () => (await api.getCustomer(customerId)).balanceCents === 100_000);
    await fulfilmentOf(shipment.orderId, 'REFUNDED');
    expect((await shipping.list(`orderId=${shipment.orderId}`)).shipments).toHaveLength(1);
  });

  it('lists parcels in pages, filtered by order and status', async () => {
    const first = await parcel();
    const second = await parcel();
    const page = await shipping.list('status=CREATED&limit=1');
    expect(page.shipments).toHaveLength(1);
    expect(page.next).toEqual(expect.any(String));
    const rest = await shipping.list(`status=CREATED&limit=500&after=${page.next}`);
    const seen = [page.shipments[0]!.id, ...rest.shipments.map((s) => s.id)];
    expect(seen).toEqual(expect.arrayContaining([first.shipment.id, second.shipment.id]));
    expect(new Set(seen).size).toBe(seen.length);
    expect(rest.shipments.every((s) => s.status === 'CREATED')).toBe(true);
  });

  it('shows a customer their own parcels only', async () => {
    const mine = await parcel();
    const theirs = await parcel();
    const customer = shippingApi(api.as('customer', mine.customerId));
    expect((await customer.get(mine.shipment.id)).id).toBe(mine.shipment.id);
    expect((await customer.list('limit=500')).shipments.map((s) => s.customerId)).toEqual([mine.customerId]);
    expectProblem(await api.as('customer', mine.customerId).call('GET', `/api/shipments/${theirs.shipment.id}`), 403);
    expectProblem(await api.as('customer', mine.customerId).call('GET', `/api/shipments?customerId=${theirs.customerId}`), 403);
    expectProblem(await customer.dispatch(mine.shipment.id), 403);
  });

  it("counts parcels by status in the event store's read model, and rebuilds a parcel's state from its events", async () => {
    const { shipment } = await parcel();
    await ok(shipping.dispatch(shipment.id));
    const delivered = await ok(shipping.deliver(shipment.id));
    const report = await waitFor('the report to count the delivered parcel', async () => {
      const body = (await api.call('GET', '/api/reports/shipments')).body as { byStatus: Record<string, number>; total: number };
      return (body.byStatus.DELIVERED ?? 0) >= 1 && body.total >= 1 ? body : undefined;
    });
    expect(Object.values(report.byStatus).reduce((sum, n) => sum + n, 0)).toBe(report.total);
    const rebuilt = await waitFor('the rebuilt state', async () => {
      const response = await api.call('GET', `/api/aggregates/shipment/${shipment.id}/state`);
      return response.status === 200 && response.body.state?.status === 'DELIVERED' ? response.body : undefined;
    });
    expect(rebuilt.state).toMatchObject({ id: shipment.id, status: delivered.status, carrier: delivered.carrier, incidents: [] });
  });

  it('a cancelled order has no parcel (fulfilment NONE)', async () => {
    const customer = await shipping.customer(10);
    const product = await api.product(5, 1_000);
    const orderId = await shipping.buy(customer.id, product.id, 1);
    expect((await api.terminal(orderId)).status).toBe('CANCELLED');
    expect(await ok(api.call('GET', `/api/orders/${orderId}`))).toMatchObject({ fulfilment: 'NONE' });
    expect((await shipping.list(`orderId=${orderId}`)).shipments).toEqual([]);
  });
});

describe('bad requests and wrong transitions are problem+json and change nothing', () => {
  let created: Shipment;
  let delivered: Shipment;
  let resolvedIncident: { shipmentId: string; incidentId: string };

  beforeAll(async () => {
    created = (await parcel()).shipment;
    delivered = (await parcel()).shipment;
    await ok(shipping.dispatch(delivered.id));
    await ok(shipping.deliver(delivered.id));
    const incident = await ok(shipping.report(delivered.id, 'DAMAGED'));
    await ok(shipping.resolve(delivered.id, incident.incidentId, 'NONE'));
    resolvedIncident = { shipmentId: delivered.id, incidentId: incident.incidentId };
  });

  const cases: Array<[string, () => Promise<ApiResponse>, number, string | undefined]> = [
    [
      'dispatch: missing carrier',
      () => api.call('POST', `/api/shipments/${created.id}/dispatch`, { trackingNumber: 'T1' }),
      400,
      'carrier',
    ],
    [
      'dispatch: unknown field',
      () => api.call('POST', `/api/shipments/${created.id}/dispatch`, { carrier: 'c', trackingNumber: 't', express: true }),
      400,
      'express',
    ],
    ['dispatch: empty body', () => api.call('POST', `/api/shipments/${created.id}/dispatch`, undefined, ''), 400, ''],
    ['dispatch: unknown parcel', () => shipping.dispatch(uuidv7()), 404, undefined],
    ['dispatch: not a UUID', () => shipping.dispatch('42'), 404, undefined],
    ['dispatch: already delivered', () => shipping.dispatch(delivered.id), 409, undefined],
    ['deliver: not dispatched', () => shipping.deliver(created.id), 409, undefined],
    ['deliver: delivered already', () => shipping.deliver(delivered.id), 409, undefined],
    [
      'incident: unknown kind',
      () => api.call('POST', `/api/shipments/${created.id}/incidents`, { kind: 'STOLEN', description: 'x' }),
      400,
      'kind',
    ],
    [
      'incident: missing description',
      () => api.call('POST', `/api/shipments/${created.id}/incidents`, { kind: 'LOST' }),
      400,
      'description',
    ],
    ['incident: not dispatched yet', () => shipping.report(created.id, 'LOST'), 409, undefined],
    ['incident: LOST once delivered', () => shipping.report(delivered.id, 'LOST'), 409, undefined],
    ['resolve: unknown incident', () => shipping.resolve(delivered.id, uuidv7(), 'NONE'), 404, undefined],
    [
      'resolve: already resolved',
      () => shipping.resolve(resolvedIncident.shipmentId, resolvedIncident.incidentId, 'REFUND'),
      409,
      undefined,
    ],
    [
      'resolve: unknown resolution',
      () => api.call('POST', `/api/shipments/${delivered.id}/incidents/${resolvedIncident.incidentId}/resolve`, { resolution: 'SHRUG' }),
      400,
      'resolution',
    ],
    ['get: unknown parcel', () => api.call('GET', `/api/shipments/${uuidv7()}`), 404, undefined],
    ['list: unknown status', () => api.call('GET', '/api/shipments?status=LOST'), 400, 'status'],
    ['list: bad cursor', () => api.call('GET', '/api/shipments?after=nope'), 400, 'after'],
    ['list: orderId not a UUID', () => api.call('GET', '/api/shipments?orderId=7'), 400, 'orderId'],
    ['list: limit too large', () => api.call('GET', '/api/shipments?limit=501'), 400, 'limit'],
  ];

  it.each(cases)('%s', async (_name, request, status, field) => {
    const before = await quietChangeCount(t);
    const shipmentsBefore = await t.sql.query('SELECT id, status, state FROM shipping.shipments ORDER BY id');
    expectProblem(await request(), status, field);
    expect(await changeCount(t.sql)).toBe(before);
    expect((await t.sql.query('SELECT id, status, state FROM shipping.shipments ORDER BY id')).rows).toEqual(shipmentsBefore.rows);
  });
});
