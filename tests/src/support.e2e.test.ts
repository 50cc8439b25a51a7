import { waitFor } from '@jetsaga/devstack';
import { createEvent, type EventData, EVENTS_STREAM, eventSubject, uuidv7 } from '@jetsaga/events';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api, Complaint } from './support/api.js';
import { startTestSystem, type TestSystem, waitForConsumerIdle } from './support/harness.js';
import { changeCount, quietChangeCount, expectProblem } from './support/problems.js';
import { shippingApi } from './support/shipping.js';

let t: TestSystem;
let api: Api;

/** A CRITICAL complaint's response deadline in this system: short enough to watch it escalate. */
const CRITICAL_DEADLINE_MS = 2_000;

beforeAll(async () => {
  t = await startTestSystem({ COMPLAINT_DEADLINE_CRITICAL_MS: String(CRITICAL_DEADLINE_MS) });
  api = t.api;
});

afterAll(async () => {
  await t?.stop();
});

const filed = (customerId: string, extra: Partial<{ orderId: string; priority: string }> = {}) => ({
  customerId,
  title: 'Broken handle',
  description: 'The lamp arrived with a broken handle',
  priority: 'MEDIUM',
  category: 'PRODUCT',
  ...extra,
});

/** A customer with a completed order of `priceCents`: what they paid is what a refund can give back. */
async function paidOrder(balanceCents: number, priceCents: number) {
  const customer = await api.customer(balanceCents);
  const product = await api.product(5, priceCents);
  const order = await api.terminal(await api.buy(customer.id, product.id, 1));
  expect(order.status).toBe('COMPLETED');
  return { customerId: customer.id, orderId: order.id };
}

async function toInProgress(id: string) {
  await api.ok('POST', `/api/complaints/${id}/assign`, { agent: 'agent-7' });
  await api.ok('POST', `/api/complaints/${id}/start`);
}

/** Polls a complaint until `ready` holds. */
function complaintWhen(id: string, what: string, ready: (c: Complaint) => boolean, timeoutMs = 30_000): Promise<Complaint> {
  return waitFor(
    `complaint ${id} ${what}`,
    async () => {
      const complaint = await api.getComplaint(id);
      return ready(complaint) ? complaint : undefined;
    },
    timeoutMs,
    50,
  );
}

async function paymentRow(orderId: string) {
  const { rows } = await t.sql.query('SELECT status, amount_cents, refunded_cents FROM payment.payments WHERE order_id = $1', [orderId]);
  return rows[0] as { status: string; amount_cents: string; refunded_cents: string };
}

/** Publishes an event as its owning service's outbox would (shipping, for parcel incidents). */
async function publish<T extends 'IncidentReported' | 'IncidentResolved'>(
  type: T,
  aggregateId: string,
  data: EventData<T>,
  correlationId: string,
): Promise<{ id: string; correlationId: string }> {
  const event: { id: string; correlationId: string } = createEvent(type, aggregateId, data, {
    id: uuidv7(),
    occurredAt: new Date().toISOString(),
    correlationId,
    causationId: 'support-e2e',
    actor: 'shipping-service',
  });
  await jetstream(t.nc).publish(eventSubject('shipment', aggregateId, type), JSON.stringify(event), { msgID: event.id });
  return event;
}

describe('support: complaints', () => {
  it('goes OPEN -> ASSIGNED -> IN_PROGRESS -> RESOLVED -> CLOSED, with its timeline', async () => {
    const { customerId, orderId } = await paidOrder(10_000, 1_000);
    const opened = await api.call('POST', '/api/complaints', filed(customerId, { orderId }));
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({ status: 'OPEN', customerId, orderId, priority: 'MEDIUM', automatic: false });
    const id = opened.body.id as string;
    expect(await api.ok('POST', `/api/complaints/${id}/assign`, { agent: 'agent-7' })).toMatchObject({
      status: 'ASSIGNED',
      assignee: 'agent-7',
    });
    expect(await api.ok('POST', `/api/complaints/${id}/start`)).toMatchObject({ status: 'IN_PROGRESS' });
    expect(await api.ok('POST', `/api/complaints/${id}/resolve`, { resolution: 'replacement handle sent' })).toMatchObject({
      status: 'RESOLVED',
      resolution: 'replacement handle sent',
    });
    const closed = await api.ok<Complaint>('POST', `/api/complaints/${id}/close`);
    expect(closed.status).toBe('CLOSED');
    expect(closed.refunds).toEqual([]);
    expect(closed.timeline?.map((entry) => entry.type)).toEqual([
      'ComplaintOpened',
      'ComplaintAssigned',
      'ComplaintProcessingStarted',
      'ComplaintResolved',
      'ComplaintClosed',
    ]);
    // Every step continues the complaint's own saga.
    const stored = await t.sql.query('SELECT DISTINCT correlation_id FROM support.complaints WHERE id = $1', [id]);
    expect(stored.rows).toEqual([{ correlation_id: closed.correlationId }]);
  });

  it('refuses a wrong transition with a 409 problem and changes nothing', async () => {
    const customer = await api.customer(100);
    const { id } = await api.complaint(filed(customer.id));
    await toInProgress(id);
    await api.ok('POST', `/api/complaints/${id}/resolve`, { resolution: 'answered' });
    for (const [step, body] of [
      ['start', undefined],
      ['resolve', { resolution: 'again' }],
      ['assign', { agent: 'agent-8' }],
    ] as const) {
      const before = await quietChangeCount(t);
      expectProblem(await api.call('POST', `/api/complaints/${id}/${step}`, body), 409);
      expect(await changeCount(t.sql)).toBe(before);
    }
    expect(await api.getComplaint(id)).toMatchObject({ status: 'RESOLVED', assignee: 'agent-7' });
  });

  it('a customer opens and reads only their own complaints; agents run the desk', async () => {
    const ada = await api.customer(100);
    const bob = await api.customer(100);
    const asAda = api.as('customer', ada.id);
    const asAgent = api.as('agent', 'agent-42');
    const opened = await asAda.call('POST', '/api/complaints', filed(ada.id));
    expect(opened.status).toBe(201);
    const id = opened.body.id as string;
    expect((await asAda.call('GET', `/api/complaints/${id}`)).status).toBe(200);
    const before = await quietChangeCount(t);
    expectProblem(await asAda.call('POST', '/api/complaints', filed(bob.id)), 403);
    expectProblem(await api.as('customer', bob.id).call('GET', `/api/complaints/${id}`), 403);
    expectProblem(await asAda.call('POST', `/api/complaints/${id}/assign`, { agent: 'ada' }), 403);
    expectProblem(await asAda.call('GET', `/api/complaints?customerId=${bob.id}`), 403);
    expectProblem(await api.withToken(null).call('GET', `/api/complaints/${id}`), 401);
    expect(await changeCount(t.sql)).toBe(before);
    const mine = await asAda.ok<{ complaints: Complaint[] }>('GET', '/api/complaints');
    expect(mine.complaints.map((c) => c.id)).toEqual([id]);
    const assigned = await asAgent.ok<Complaint>('POST', `/api/complaints/${id}/assign`, { agent: 'agent-42' });
    expect(assigned.timeline?.at(-1)).toMatchObject({ type: 'ComplaintAssigned', actor: 'agent:agent-42' });
    expect(assigned.timeline?.[0]).toMatchObject({ type: 'ComplaintOpened', actor: `customer:${ada.id}` });
  });

  it('lists complaints by filter, a page at a time', async () => {
    const customer = await api.customer(100);
    const ids = [];
    for (const priority of ['LOW', 'HIGH', 'LOW']) ids.push((await api.complaint(filed(customer.id, { priority }))).id);
    const low = await api.ok<{ complaints: Complaint[]; next: string | null }>(
      'GET',
      `/api/complaints?customerId=${customer.id}&priority=LOW`,
    );
    expect(low.complaints.map((c) => c.id)).toEqual([ids[0], ids[2]]);
    const first = await api.ok<{ complaints: Complaint[]; next: string | null }>(
      'GET',
      `/api/complaints?customerId=${customer.id}&limit=2`,
    );
    expect(first.complaints.map((c) => c.id)).toEqual(ids.slice(0, 2));
    expect(first.next).toEqual(expect.any(String));
    const second = await api.ok<{ complaints: Complaint[]; next: string | null }>(
      'GET',
      `/api/complaints?customerId=${customer.id}&limit=2&after=${first.next}`,
    );
    expect(second).toEqual({ complaints: [expect.objectContaining({ id: ids[2] })], next: null });
    await api.ok('POST', `/api/complaints/${ids[1]}/assign`, { agent: 'agent-list' });
    const assigned = await api.ok<{ complaints: Complaint[] }>('GET', `/api/complaints?assignee=agent-list&status=ASSIGNED`);
    expect(assigned.complaints.map((c) => c.id)).toEqual([ids[1]]);
  });

  it('escalates a CRITICAL complaint nobody took once its deadline passes, and one answered in time never', async () => {
    const customer = await api.customer(100);
    const ignored = await api.complaint(filed(customer.id, { priority: 'CRITICAL' }));
    const answered = await api.complaint(filed(customer.id, { priority: 'CRITICAL' }));
    await toInProgress(answered.id);
    await api.ok('POST', `/api/complaints/${answered.id}/resolve`, { resolution: 'called back' });
    const escalated = await complaintWhen(ignored.id, 'to escalate', (c) => c.escalation !== undefined, 20_000);
    expect(escalated).toMatchObject({ status: 'OPEN', escalation: 'UNASSIGNED' });
    expect(escalated.timeline?.map((entry) => entry.type)).toEqual(['ComplaintOpened', 'ComplaintEscalated']);
    expect(escalated.timeline?.[1]?.actor).toBe('deadline');
    // The answered one's timer was purged with its resolution; had it fired, the deadline consumer would have run it.
    await waitForConsumerIdle(t.nc, 'DEADLINES', 'support-deadlines');
    const still = await api.getComplaint(answered.id);
    expect(still.escalation).toBeUndefined();
    expect(still.timeline?.map((entry) => entry.type)).not.toContain('ComplaintEscalated');
  });
});

describe('support: refunds as a saga', () => {
  it('a complaint resolved with a refund gives the money back (PaymentRefunded), and the complaint shows it', async () => {
    const { customerId, orderId } = await paidOrder(10_000, 1_000);
    expect((await api.getCustomer(customerId)).balanceCents).toBe(9_000);
    const { id } = await api.complaint(filed(customerId, { orderId }));
    await toInProgress(id);
    const resolved = await api.ok<Complaint>('POST', `/api/complaints/${id}/resolve`, { resolution: 'partial refund', refundCents: 400 });
    expect(resolved).toMatchObject({ status: 'RESOLVED', refundCents: 400, refundId: expect.any(String) });
    const refunded = await complaintWhen(id, 'to show its refund', (c) => c.refunds?.[0]?.status === 'REFUNDED');
    expect(refunded.refunds).toEqual([expect.objectContaining({ refundId: resolved.refundId, amountCents: 400, status: 'REFUNDED' })]);
    expect(refunded.timeline?.map((entry) => entry.type)).toEqual(
      expect.arrayContaining(['ComplaintResolved', 'RefundRequested', 'PaymentRefunded']),
    );
    expect((await api.getCustomer(customerId)).balanceCents).toBe(9_400);
    expect(await paymentRow(orderId)).toMatchObject({ status: 'ACCEPTED', refunded_cents: '400' });
  });

  it('a refund larger than what is left of the payment is rejected (RefundRejected) and moves no money', async () => {
    const { customerId, orderId } = await paidOrder(5_000, 1_000);
    const first = await api.complaint(filed(customerId, { orderId }));
    await toInProgress(first.id);
    await api.ok('POST', `/api/complaints/${first.id}/resolve`, { resolution: 'most of it back', refundCents: 700 });
    await complaintWhen(first.id, 'to be refunded', (c) => c.refunds?.[0]?.status === 'REFUNDED');
    expect((await api.getCustomer(customerId)).balanceCents).toBe(4_700);

    const second = await api.complaint(filed(customerId, { orderId }));
    await toInProgress(second.id);
    await api.ok('POST', `/api/complaints/${second.id}/resolve`, { resolution: 'the rest and more', refundCents: 301 });
    // The refund's status and the complaint's timeline are updated by separate events: wait for both.
    const rejected = await complaintWhen(
      second.id,
      'to show the rejection',
      (c) => c.refunds?.[0]?.status === 'REJECTED' && (c.timeline ?? []).some((entry) => entry.type === 'RefundRejected'),
    );
    expect(rejected.refunds?.[0]).toMatchObject({ amountCents: 301, rejectionReason: 'EXCEEDS_PAYMENT' });
    expect(rejected.timeline?.map((entry) => entry.type)).toContain('RefundRejected');
    await waitForConsumerIdle(t.nc, EVENTS_STREAM, 'payment');
    expect((await api.getCustomer(customerId)).balanceCents).toBe(4_700);
    expect(await paymentRow(orderId)).toMatchObject({ status: 'ACCEPTED', refunded_cents: '700' });
  });

  it('a lost parcel opens a complaint by itself; its incident settled by a refund restores the balance, once', async () => {
    const { customerId, orderId } = await paidOrder(8_000, 1_500);
    const shipmentId = uuidv7();
    const incidentId = uuidv7();
    const reported = await publish(
      'IncidentReported',
      shipmentId,
      { shipmentId, orderId, customerId, incidentId, kind: 'LOST', description: 'not found at the depot', automatic: false },
      orderId,
    );
    const complaint = await complaintWhen(incidentId, 'to be opened by the incident', () => true);
    expect(complaint).toMatchObject({ customerId, orderId, shipmentId, incidentId, priority: 'HIGH', automatic: true, status: 'OPEN' });
    // The parcel's saga is the order's: the complaint continues it.
    expect(complaint.correlationId).toBe(reported.correlationId);

    const resolution = {
      shipmentId,
      orderId,
      customerId,
      incidentId,
      resolution: 'REFUND',
      note: 'refund the lost lines',
      requested: 'REFUND',
      amountCents: 1_500,
    } as const;
    await publish('IncidentResolved', shipmentId, resolution, orderId);
    const refunded = await complaintWhen(incidentId, 'to show the refund', (c) => c.refunds?.[0]?.status === 'REFUNDED');
    expect(refunded.refunds).toEqual([expect.objectContaining({ refundId: incidentId, amountCents: 1_500 })]);
    expect((await api.getCustomer(customerId)).balanceCents).toBe(8_000);
    // The same settlement delivered again (another copy of the event) asks nothing more.
    await publish('IncidentResolved', shipmentId, resolution, orderId);
    await waitForConsumerIdle(t.nc, EVENTS_STREAM, 'support-refunds');
    await waitForConsumerIdle(t.nc, EVENTS_STREAM, 'payment');
    expect((await api.getCustomer(customerId)).balanceCents).toBe(8_000);
    const { rows } = await t.sql.query('SELECT count(*)::int AS n FROM support.refunds WHERE order_id = $1', [orderId]);
    expect(rows[0].n).toBe(1);
  });

  it('through shipping: a lost parcel opens a complaint by itself, its refund restores the balance, the desk closes it', async () => {
    const shipping = shippingApi(api);
    const customer = await shipping.customer(20_000);
    const product = await api.product(5, 3_000);
    const orderId = await shipping.buy(customer.id, product.id, 1);
    expect((await api.terminal(orderId)).status).toBe('COMPLETED');
    const shipment = await shipping.of(orderId);
    expect((await shipping.dispatch(shipment.id)).status).toBe(200);
    const reported = await shipping.report(shipment.id, 'LOST');
    expect(reported.status).toBe(201);
    const { incidentId } = reported.body as { incidentId: string };
    const opened = await complaintWhen(incidentId, 'to be opened by the lost parcel', () => true);
    expect(opened).toMatchObject({
      customerId: customer.id,
      orderId,
      shipmentId: shipment.id,
      incidentId,
      automatic: true,
      priority: 'HIGH',
    });
    expect((await shipping.resolve(shipment.id, incidentId, 'REFUND')).status).toBe(200);
    const refunded = await complaintWhen(incidentId, 'to show the refund', (c) => c.refunds?.[0]?.status === 'REFUNDED');
    expect(refunded.refunds?.[0]).toMatchObject({ refundId: incidentId, amountCents: 3_000 });
    await waitFor('the balance to be restored', async () => (await api.getCustomer(customer.id)).balanceCents === 20_000);
    await shipping.until(shipment.id, 'REFUNDED', (s) => s.status === 'REFUNDED');
    await toInProgress(incidentId);
    await api.ok('POST', `/api/complaints/${incidentId}/resolve`, { resolution: 'refunded by the parcel incident' });
    const closed = await api.ok<Complaint>('POST', `/api/complaints/${incidentId}/close`);
    expect(closed.timeline?.map((entry) => entry.type)).toEqual(
      expect.arrayContaining(['ComplaintOpened', 'RefundRequested', 'PaymentRefunded', 'ComplaintResolved', 'ComplaintClosed']),
    );
    // The incident's saga (its report's correlation) holds the parcel's step and the desk's, each in its phase.
    const saga = await waitFor(
      'the saga to hold the closed complaint',
      async () => {
        const body = (await api.call('GET', `/api/sagas/${opened.correlationId}`)).body as {
          steps?: Array<{ type: string; phase: string }>;
        };
        return body.steps?.some((step) => step.type === 'ComplaintClosed') ? body : undefined;
      },
      20_000,
    );
    expect(saga.steps?.map((step) => [step.type, step.phase])).toEqual(
      expect.arrayContaining([
        ['IncidentReported', 'shipping'],
        ['ComplaintOpened', 'support'],
        ['ComplaintClosed', 'support'],
      ]),
    );
    expect((await api.getCustomer(customer.id)).balanceCents).toBe(20_000);
  });

  it('the reports add up what the desk and payment did: refunds per day and complaints by status', async () => {
    const { customerId, orderId } = await paidOrder(6_000, 900);
    const { id } = await api.complaint(filed(customerId, { orderId, priority: 'HIGH' }));
    await toInProgress(id);
    await api.ok('POST', `/api/complaints/${id}/resolve`, { resolution: 'some back', refundCents: 250 });
    await complaintWhen(id, 'to be refunded', (c) => c.refunds?.[0]?.status === 'REFUNDED');
    const today = new Date().toISOString().slice(0, 10);
    type Refunds = {
      days: Array<{ day: string; refunded: number; refundedCents: number; rejected: number }>;
      totals: { refundedCents: number };
    };
    // The oracle is the event store's own copy of payment's answers, not the projection the report reads.
    await waitFor(
      'the refunds report to match the refunds payment made today',
      async () => {
        const { rows } = await t.sql.query<{ refunded: number; cents: string; rejected: number }>(
          `SELECT count(*) FILTER (WHERE type = 'PaymentRefunded')::int AS refunded,
                  coalesce(sum((data->>'amountCents')::bigint) FILTER (WHERE type = 'PaymentRefunded'), 0)::text AS cents,
                  count(*) FILTER (WHERE type = 'RefundRejected')::int AS rejected
           FROM eventstore.events WHERE type IN ('PaymentRefunded', 'RefundRejected') AND data->>'refundId' IS NOT NULL
             AND (occurred_at AT TIME ZONE 'UTC')::date = $1::date`,
          [today],
        );
        const report = (await api.ok<Refunds>('GET', `/api/reports/refunds?from=${today}&to=${today}`)).days.find((d) => d.day === today);
        const expected = rows[0];
        return (
          expected !== undefined &&
          expected.refunded > 0 &&
          report?.refunded === expected.refunded &&
          report.refundedCents === Number(expected.cents) &&
          report.rejected === expected.rejected
        );
      },
      20_000,
    );
    type Complaints = {
      byStatus: Record<string, number>;
      byPriority: Record<string, number>;
      total: number;
      refunds: { refunded: number };
    };
    await waitFor(
      'the complaints report to match the desk',
      async () => {
        const { rows } = await t.sql.query<{ status: string; n: number }>(
          'SELECT status, count(*)::int AS n FROM support.complaints GROUP BY status',
        );
        const report = await api.ok<Complaints>('GET', '/api/reports/complaints');
        const total = rows.reduce((sum, row) => sum + row.n, 0);
        return (
          total > 0 && report.total === total && rows.every((row) => report.byStatus[row.status] === row.n) && report.byPriority.HIGH! > 0
        );
      },
      20_000,
    );
    expectProblem(await api.call('GET', '/api/reports/refunds?from=yesterday'), 400, 'from');
    expect((await api.as('customer', customerId).call('GET', '/api/reports/complaints')).status).toBe(403);
  });

  it('money is conserved: opened balances = balances + payments kept (taken minus refunded)', async () => {
    const { rows: over } = await t.sql.query('SELECT order_id FROM payment.payments WHERE refunded_cents > amount_cents');
    expect(over).toEqual([]);
    await waitFor(
      'the event store to hold every account',
      async () => {
        const { rows } = await t.sql.query(`
          SELECT (SELECT count(*) FROM payment.customers) AS customers,
                 (SELECT count(*) FROM eventstore.events WHERE type = 'CustomerRegistered') AS registered`);
        return Number(rows[0].customers) === Number(rows[0].registered);
      },
      20_000,
    );
    const { rows } = await t.sql.query(`
      SELECT (SELECT coalesce(sum(balance_cents), 0) FROM payment.customers)
           + (SELECT coalesce(sum(amount_cents - refunded_cents), 0) FROM payment.payments WHERE status = 'ACCEPTED') AS held,
             (SELECT coalesce(sum((data->>'balanceCents')::bigint), 0) FROM eventstore.events WHERE type = 'CustomerRegistered') AS opened`);
    expect(Number(rows[0].held)).toBe(Number(rows[0].opened));
  });
});
