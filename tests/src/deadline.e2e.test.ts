import { waitFor } from '@jetsaga/devstack';
import { DEADLINES_STREAM, deadlineFiredSubject, deadlineScheduleSubject, EVENTS_STREAM } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem, waitForConsumerIdle, waitForOutboxesDrained } from './support/harness.js';
import { eventsOf, type StoredEvent } from './support/stream.js';

let t: TestSystem;
let api: Api;

async function lastOn(stream: string, subject: string) {
  const jsm = await jetstreamManager(t.nc);
  return jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null);
}

beforeAll(async () => {
  // A short deadline, so the test can let one pass.
  t = await startTestSystem({ SAGA_DEADLINE_MS: '2000' });
  api = t.api;
});

afterAll(async () => {
  t?.system.supervisor.signal('payment', 'SIGCONT');
  await t?.stop();
});

describe('saga deadlines (JetStream message schedules)', () => {
  it('cancels a saga that did not finish in time, compensates it, and a late payment neither resurrects it nor keeps the money', async () => {
    const frank = await api.customer(20_000);
    const clock = await api.product(3, 4_000);
    const cart = await api.cart(frank.id);
    await api.addItem(cart.id, clock.id, 2);
    // Payment hangs: the saga cannot finish before its deadline.
    t.system.supervisor.signal('payment', 'SIGSTOP');
    let orderId: string;
    let order: Awaited<ReturnType<Api['order']>>;
    try {
      orderId = await api.checkout(cart.id);
      order = await api.terminal(orderId, 30_000);
    } finally {
      t.system.supervisor.signal('payment', 'SIGCONT');
    }
    expect(order).toMatchObject({ status: 'CANCELLED', reason: 'DEADLINE_EXCEEDED' });
    expect(await lastOn(DEADLINES_STREAM, deadlineFiredSubject('order', orderId))).not.toBeNull();
    await waitFor('the reservation to be released', async () => (await api.getProduct(clock.id)).reserved === 0);
    expect((await api.getProduct(clock.id)).available).toBe(3);

    // Payment came back and handles what it missed: a charge it makes now is refunded, and no sale follows.
    for (const durable of ['payment', 'sales', 'order', 'inventory']) await waitForConsumerIdle(t.nc, EVENTS_STREAM, durable);
    await waitForOutboxesDrained(t.sql);
    const cancellations = (await eventsOf(t.nc, 'order', orderId)).filter((e) => e.type === 'OrderCancelled');
    expect(cancellations).toHaveLength(1);
    const cancelled = cancellations[0] as StoredEvent;
    const payments = await eventsOf(t.nc, 'payment', orderId);
    expect(payments.map((e) => e.type)).toEqual(['PaymentAccepted', 'PaymentRefunded']);
    const [charge, refund] = payments as [StoredEvent, StoredEvent];
    const amount = { orderId, customerId: frank.id, amountCents: order.totalCents };
    expect(order.totalCents).toBeGreaterThan(0);
    // The charge came after the cancellation (late), and the refund gives back exactly it, caused by the cancellation.
    expect(charge).toMatchObject({ correlationId: order.correlationId, data: amount });
    expect(charge.seq).toBeGreaterThan(cancelled.seq);
    expect(refund).toMatchObject({ correlationId: order.correlationId, causationId: cancelled.id, data: amount });
    expect((await api.getCustomer(frank.id)).balanceCents).toBe(20_000);
    expect((await api.order(orderId)).status).toBe('CANCELLED');
    const { rows } = await t.sql.query("SELECT count(*)::int AS n FROM sales.sales WHERE order_id = $1 AND status = 'CONFIRMED'", [
      orderId,
    ]);
    expect(rows[0].n).toBe(0);
    expect(await api.getProduct(clock.id)).toMatchObject({ available: 3, reserved: 0 });
  });

  it('takes a sale that crossed the deadline off the books: SaleCancelled, money refunded, stock back', async () => {
    const henry = await api.customer(30_000);
    const chair = await api.product(5, 6_000);
    const cart = await api.cart(henry.id);
    await api.addItem(cart.id, chair.id, 2);
    const salesBefore = (await api.call('GET', '/api/sales/summary')).body;
    // Sales hangs after the payment was taken: the deadline cancels the order while PaymentAccepted waits for sales.
    t.system.supervisor.signal('sales', 'SIGSTOP');
    let orderId: string;
    try {
      orderId = await api.checkout(cart.id);
      expect(await api.terminal(orderId, 30_000)).toMatchObject({ status: 'CANCELLED', reason: 'DEADLINE_EXCEEDED' });
      await waitFor('the payment to be refunded', async () => (await api.getCustomer(henry.id)).balanceCents === 30_000);
    } finally {
      t.system.supervisor.signal('sales', 'SIGCONT');
    }
    for (const durable of ['sales', 'inventory', 'payment', 'order']) await waitForConsumerIdle(t.nc, EVENTS_STREAM, durable);
    const { rows } = await t.sql.query('SELECT status FROM sales.sales WHERE order_id = $1', [orderId]);
    expect(rows.map((row) => row.status)).toEqual(['CANCELLED']);
    expect((await api.call('GET', '/api/sales/summary')).body).toEqual(salesBefore);
    expect(await api.getProduct(chair.id)).toMatchObject({ available: 5, reserved: 0 });
    expect((await api.getCustomer(henry.id)).balanceCents).toBe(30_000);
    expect((await api.order(orderId)).status).toBe('CANCELLED');
  });

  it('removes the schedule of a saga that ended in time', async () => {
    const grace = await api.customer(20_000);
    const vase = await api.product(3, 1_000);
    const orderId = await api.buy(grace.id, vase.id, 1);
    expect((await api.terminal(orderId)).status).toBe('COMPLETED');
    await waitFor(
      'the deadline schedule to be purged',
      async () => (await lastOn(DEADLINES_STREAM, deadlineScheduleSubject('order', orderId))) === null,
    );
    expect(await lastOn(DEADLINES_STREAM, deadlineFiredSubject('order', orderId))).toBeNull();
  });
});
