import { waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM, eventSubject, uuidv7 } from '@jetsaga/events';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem, waitForConsumerIdle } from './support/harness.js';

let t: TestSystem;
let api: Api;
/** Every balance this suite opened, to check that money is conserved at the end. */
let openedCents = 0;

async function customer(balanceCents: number) {
  const created = await api.customer(balanceCents);
  openedCents += balanceCents;
  return created;
}

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
});

afterAll(async () => {
  await t?.stop();
});

describe('the order saga through the gateway', () => {
  it('completes: stock reserved then committed, customer debited, sale recorded', async () => {
    const ada = await customer(10_000);
    const lamp = await api.product(5, 1_500);
    const orderId = await api.buy(ada.id, lamp.id, 2);
    const order = await api.terminal(orderId);
    expect(order).toMatchObject({
      id: orderId,
      customerId: ada.id,
      status: 'COMPLETED',
      totalCents: 3_000,
      lines: [{ productId: lamp.id, quantity: 2, priceCents: 1_500 }],
    });
    expect(order.reason).toBeUndefined();
    await allConsumersIdle();
    expect(await api.getProduct(lamp.id)).toMatchObject({ available: 3, reserved: 0 });
    expect((await api.getCustomer(ada.id)).balanceCents).toBe(7_000);
    expect(await eventTypesOf('reservation', orderId, ['StockCommitted', 'StockReserved'])).toEqual(['StockCommitted', 'StockReserved']);
    expect(await eventTypesOf('sale', orderId, ['SaleConfirmed'])).toEqual(['SaleConfirmed']);
  });

  it('is cancelled OUT_OF_STOCK when any line is short, reserving nothing and charging nothing', async () => {
    const bob = await customer(1_000_000);
    const scarce = await api.product(1, 100);
    const plenty = await api.product(50, 100);
    const cart = await api.cart(bob.id);
    await api.addItem(cart.id, plenty.id, 3);
    await api.addItem(cart.id, scarce.id, 2);
    const order = await api.terminal(await api.checkout(cart.id));
    expect(order).toMatchObject({ status: 'CANCELLED', reason: 'OUT_OF_STOCK' });
    await allConsumersIdle();
    expect(await api.getProduct(plenty.id)).toMatchObject({ available: 50, reserved: 0 });
    expect(await api.getProduct(scarce.id)).toMatchObject({ available: 1, reserved: 0 });
    expect((await api.getCustomer(bob.id)).balanceCents).toBe(1_000_000);
  });

  it('is cancelled PAYMENT_REFUSED and the reservation is released', async () => {
    const carol = await customer(999);
    const desk = await api.product(4, 1_000);
    const orderId = await api.buy(carol.id, desk.id, 1);
    const order = await api.terminal(orderId);
    expect(order).toMatchObject({ status: 'CANCELLED', reason: 'PAYMENT_REFUSED' });
    await allConsumersIdle();
    expect(await api.getProduct(desk.id)).toMatchObject({ available: 4, reserved: 0 });
    expect((await api.getCustomer(carol.id)).balanceCents).toBe(999);
    expect(await eventTypesOf('reservation', orderId, ['StockReleased', 'StockReserved'])).toEqual(['StockReleased', 'StockReserved']);
    expect(await eventTypesOf('payment', orderId, ['PaymentRefused'])).toEqual(['PaymentRefused']);
  });

  it('sells exactly the stock under contention: 40 checkouts of 1 unit against 10', async () => {
    const widget = await api.product(10, 250);
    const buyers = await Promise.all(Array.from({ length: 40 }, () => customer(10_000)));
    const carts = await Promise.all(
      buyers.map(async (buyer) => {
        const cart = await api.cart(buyer.id);
        await api.addItem(cart.id, widget.id, 1);
        return cart.id;
      }),
    );
    let watching = true;
    const observed: number[] = [];
    const watcher = (async () => {
      while (watching) {
        const product = await api.getProduct(widget.id);
        observed.push(product.available);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const orderIds = await Promise.all(carts.map((cartId) => api.checkout(cartId)));
    const orders = await Promise.all(orderIds.map((id) => api.terminal(id)));
    watching = false;
    await watcher;
    await allConsumersIdle();

    const completed = orders.filter((order) => order.status === 'COMPLETED');
    const cancelled = orders.filter((order) => order.status === 'CANCELLED');
    expect(completed).toHaveLength(10);
    expect(cancelled).toHaveLength(30);
    expect(new Set(cancelled.map((order) => order.reason))).toEqual(new Set(['OUT_OF_STOCK']));
    expect(observed.length).toBeGreaterThan(0);
    expect(Math.min(...observed)).toBeGreaterThanOrEqual(0);
    expect(await api.getProduct(widget.id)).toMatchObject({ available: 0, reserved: 0 });
    const balances = await Promise.all(buyers.map((buyer) => api.getCustomer(buyer.id)));
    expect(balances.filter((balance) => balance.balanceCents === 10_000 - 250)).toHaveLength(10);
    expect(balances.filter((balance) => balance.balanceCents === 10_000)).toHaveLength(30);
  });

  it('checks out one cart once under N simultaneous checkouts: one 202, N-1 409, one order', async () => {
    const dave = await customer(100_000);
    const pen = await api.product(100, 120);
    const cart = await api.cart(dave.id);
    await api.addItem(cart.id, pen.id, 2);
    const responses = await Promise.all(Array.from({ length: 12 }, () => api.call('POST', `/api/carts/${cart.id}/checkout`)));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([202, ...Array(11).fill(409)]);
    const accepted = responses.find((response) => response.status === 202);
    expect(accepted?.headers.get('location')).toBe(`/api/orders/${accepted?.body.orderId}`);
    for (const refused of responses.filter((response) => response.status === 409)) {
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
    }
    const { rows } = await t.sql.query('SELECT count(*)::int AS n FROM orders.orders WHERE cart_id = $1', [cart.id]);
    expect(rows[0].n).toBe(1);
    expect((await api.terminal(accepted?.body.orderId)).status).toBe('COMPLETED');
  });

  it('applies an event delivered twice once: a duplicate StockReserved charges nothing more', async () => {
    const erin = await customer(5_000);
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
    expect(openedCents).toBeGreaterThan(0);
    expect(Number(balances) + Number(sales)).toBe(openedCents);
    expect(Number(kept)).toBe(Number(sales));
    const summary = await api.call('GET', '/api/sales/summary');
    expect(summary.body.totalCents).toBe(Number(sales));
  });

  it('leaves nothing in the outbox and nothing in the dead-letter stream', async () => {
    await waitFor('every outbox to drain', async () => {
      const { rows } = await t.sql.query(`
        SELECT (SELECT count(*) FROM orders.outbox WHERE published_at IS NULL) + (SELECT count(*) FROM inventory.outbox WHERE published_at IS NULL)
             + (SELECT count(*) FROM payment.outbox WHERE published_at IS NULL) + (SELECT count(*) FROM sales.outbox WHERE published_at IS NULL) AS n`);
      return Number(rows[0].n) === 0;
    });
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.info('DLQ')).state.messages).toBe(0);
  });
});
