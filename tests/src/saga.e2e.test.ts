import { waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM, eventSubject, uuidv7 } from '@jetsaga/events';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem, waitForConsumerIdle, waitForOutboxesDrained } from './support/harness.js';
import { type SagaChecks, sagaChecks } from './support/saga-checks.js';

let t: TestSystem;
let api: Api;
/** The saga checks the cluster suite runs too; here each is followed by what only a local run can see (stream, tables). */
let checks: SagaChecks;

async function allConsumersIdle() {
  for (const durable of ['order', 'inventory', 'payment', 'sales']) await waitForConsumerIdle(t.nc, EVENTS_STREAM, durable);
}

/** The event types of an aggregate in the stream, once they are the expected ones (the outbox relays asynchronously). */
async function eventTypesOf(aggregateType: string, aggregateId: string, expected: string[]): Promise<string[]> {
  const jsm = await jetstreamManager(t.nc);
  const read = async () => {
    const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: `events.${aggregateType}.${aggregateId}.*` });
    return Object.keys(info.state.subjects ?? {})
      .map((subject) => subject.split('.')[3] as string)
      .sort();
  };
  return waitFor(
    `${aggregateType} ${aggregateId} to have ${expected.join(', ')}`,
    async () => {
      const types = await read();
      return JSON.stringify(types) === JSON.stringify([...expected].sort()) ? types : undefined;
    },
    10_000,
  ).catch(read);
}

beforeAll(async () => {
  t = await startTestSystem();
  api = t.api;
  checks = sagaChecks(api);
});

afterAll(async () => {
  await t?.stop();
});

describe('the order saga through the gateway', () => {
  it('completes: stock reserved then committed, customer debited, sale recorded', async () => {
    const order = await checks.completed();
    await allConsumersIdle();
    expect(await eventTypesOf('reservation', order.id, ['StockCommitted', 'StockReserved'])).toEqual(['StockCommitted', 'StockReserved']);
    expect(await eventTypesOf('sale', order.id, ['SaleConfirmed'])).toEqual(['SaleConfirmed']);
  });

  it('is cancelled OUT_OF_STOCK when any line is short, reserving nothing and charging nothing', async () => {
    const order = await checks.outOfStock();
    await allConsumersIdle();
    expect(await eventTypesOf('reservation', order.id, ['StockUnavailable'])).toEqual(['StockUnavailable']);
    expect(await eventTypesOf('payment', order.id, [])).toEqual([]);
  });

  it('is cancelled PAYMENT_REFUSED and the reservation is released', async () => {
    const order = await checks.paymentRefused();
    await allConsumersIdle();
    expect(await eventTypesOf('reservation', order.id, ['StockReleased', 'StockReserved'])).toEqual(['StockReleased', 'StockReserved']);
    expect(await eventTypesOf('payment', order.id, ['PaymentRefused'])).toEqual(['PaymentRefused']);
  });

  it('sells exactly the stock under contention: 40 checkouts of 1 unit against 10', async () => {
    await checks.stockRace(40, 10);
  });

  it('checks out one cart once under N simultaneous checkouts: one 202, N-1 409, one order', async () => {
    const order = await checks.cartRace(12);
    const { rows } = await t.sql.query(
      'SELECT count(*)::int AS n FROM orders.orders WHERE cart_id = (SELECT cart_id FROM orders.orders WHERE id = $1)',
      [order.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('applies an event delivered twice once: a duplicate StockReserved charges nothing more', async () => {
    const erin = await checks.customer(5_000);
    const cup = await api.product(10, 1_000);
    const orderId = await api.buy(erin.id, cup.id, 1);
    await api.terminal(orderId);
    await allConsumersIdle();
    const jsm = await jetstreamManager(t.nc);
    for (const [aggregate, type] of [
      ['reservation', 'StockReserved'],
      ['order', 'OrderPlaced'],
      ['payment', 'PaymentAccepted'],
    ] as const) {
      const subject = eventSubject(aggregate, orderId, type);
      const original = await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: subject });
      if (!original) throw new Error(`no ${type} for ${orderId}`);
      // A new Nats-Msg-Id gets past the stream's de-duplication: the consumer really receives it a second time.
      await jetstream(t.nc).publish(subject, original.data, { msgID: uuidv7() });
    }
    await allConsumersIdle();
    expect((await api.getCustomer(erin.id)).balanceCents).toBe(4_000);
    expect(await api.getProduct(cup.id)).toMatchObject({ available: 9, reserved: 0 });
    const sales = await t.sql.query('SELECT count(*)::int AS n FROM sales.sales WHERE order_id = $1', [orderId]);
    expect(sales.rows[0].n).toBe(1);
    // The copies really are in the stream, twice, and were consumed (the consumers are idle).
    const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: eventSubject('reservation', orderId, 'StockReserved') });
    expect(Object.values(info.state.subjects ?? {})).toEqual([2]);
  });

  it('conserves money: opened balances = balances + confirmed sales, and every refund matches a payment taken back', async () => {
    await allConsumersIdle();
    const { rows } = await t.sql.query(`
      SELECT (SELECT coalesce(sum(balance_cents), 0) FROM payment.customers)::bigint AS balances,
             (SELECT coalesce(sum(total_cents), 0) FROM sales.sales WHERE status = 'CONFIRMED')::bigint AS sales,
             (SELECT coalesce(sum(amount_cents), 0) FROM payment.payments WHERE status = 'ACCEPTED')::bigint AS kept`);
    const { balances, sales, kept } = rows[0];
    expect(checks.openedCents()).toBeGreaterThan(0);
    expect(Number(balances) + Number(sales)).toBe(checks.openedCents());
    expect(Number(kept)).toBe(Number(sales));
    const summary = await api.call('GET', '/api/sales/summary');
    expect(summary.body.totalCents).toBe(Number(sales));
  });

  it('leaves nothing in the outbox and nothing in the dead-letter stream', async () => {
    await waitForOutboxesDrained(t.sql);
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.info('DLQ')).state.messages).toBe(0);
  });
});
