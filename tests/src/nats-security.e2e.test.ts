import { credentialsOf, waitFor } from '@jetsaga/devstack';
import { createEvent, EVENTS_STREAM, eventSubject, uuidv7 } from '@jetsaga/events';
import { connectNats, type NatsConnection } from '@jetsaga/platform';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForConsumerIdle, startTestSystem, type TestSystem } from './support/harness.js';

/**
 * NATS is closed to anyone without credentials, and each service's credential does only what its service does: the
 * permissions derived from k8s/topology and the aggregate owners (packages/devstack/src/nats-auth.ts), on the same
 * nats-server config `npm start` runs.
 */
let t: TestSystem;
let payment: NatsConnection;
let sales: NatsConnection;

const meta = (causationId: string) => ({
  id: uuidv7(),
  occurredAt: new Date().toISOString(),
  correlationId: uuidv7(),
  causationId,
  actor: 'attacker',
});

async function lastSequence(): Promise<number> {
  return (await (await jetstreamManager(t.nc)).streams.info(EVENTS_STREAM)).state.last_seq;
}

async function salesSummary(): Promise<{ count: number; totalCents: number }> {
  const response = await t.api.call('GET', '/api/sales/summary');
  expect(response.status).toBe(200);
  return response.body;
}

/** A request the server refuses for lack of permission does not wait for its timeout to fail. */
async function refused(attempt: Promise<unknown>): Promise<string> {
  const error = await attempt.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error, 'the server should have refused this').toBeDefined();
  return String((error as Error)?.message ?? error);
}

beforeAll(async () => {
  t = await startTestSystem();
  const access = (user: string) => credentialsOf(t.natsAuth, user);
  payment = await connectNats(t.nats.url, 'attacker-as-payment', access('payment'));
  sales = await connectNats(t.nats.url, 'attacker-as-sales', access('sales'));
});

afterAll(async () => {
  await payment?.close();
  await sales?.close();
  await t?.stop();
});

describe('NATS security', () => {
  it('refuses a connection without credentials, and one with a wrong password', async () => {
    const anonymous = await refused(connectNats(t.nats.url, 'anonymous'));
    expect(anonymous).toMatch(/authorization/i);
    const wrong = await refused(connectNats(t.nats.url, 'guessing', { user: 'payment', password: 'not-the-password' }));
    expect(wrong).toMatch(/authorization/i);
  });

  it("refuses payment's credential publishing StockReserved, and nothing changes", async () => {
    const before = { sequence: await lastSequence(), sales: await salesSummary() };
    const orderId = uuidv7();
    const forged = createEvent(
      'StockReserved',
      orderId,
      { orderId, customerId: uuidv7(), lines: [{ productId: uuidv7(), quantity: 1, priceCents: 99_999 }], totalCents: 99_999 },
      meta('nats-security'),
    );
    const message = await refused(
      jetstream(payment).publish(eventSubject('reservation', orderId, 'StockReserved'), JSON.stringify(forged), {
        msgID: forged.id,
        timeout: 2000,
      }),
    );
    expect(message).toMatch(/permission/i);
    // What payment may publish still goes through on the same connection: the refusal is the subject's, not the user's.
    await payment.flush();
    expect(await lastSequence()).toBe(before.sequence);
    await waitForConsumerIdle(t.nc, EVENTS_STREAM, 'payment');
    await waitForConsumerIdle(t.nc, EVENTS_STREAM, 'sales');
    expect(await salesSummary()).toEqual(before.sales);
  });

  it("refuses a service's credential deleting or purging EVENTS, creating a consumer or deleting one", async () => {
    // Something to lose: a customer's registration is in EVENTS.
    await t.api.customer(1000);
    await waitFor('an event in EVENTS', async () => (await lastSequence()) > 0);
    const admin = await jetstreamManager(t.nc);
    const before = (await admin.streams.info(EVENTS_STREAM)).state;
    const jsm = await jetstreamManager(sales);
    expect(await refused(jsm.streams.delete(EVENTS_STREAM))).toMatch(/permission|timeout/i);
    expect(await refused(jsm.streams.purge(EVENTS_STREAM))).toMatch(/permission|timeout/i);
    expect(
      await refused(
        jsm.consumers.add(EVENTS_STREAM, { durable_name: 'sneaky', ack_policy: AckPolicy.Explicit, filter_subjects: ['events.>'] }),
      ),
    ).toMatch(/permission|timeout/i);
    expect(await refused(jsm.consumers.delete(EVENTS_STREAM, 'payment'))).toMatch(/permission|timeout/i);
    // Nothing happened: the stream, its messages and the consumers are all still there.
    const after = (await admin.streams.info(EVENTS_STREAM)).state;
    expect([after.first_seq, after.messages]).toEqual([before.first_seq, before.messages]);
    expect((await admin.consumers.info(EVENTS_STREAM, 'payment')).name).toBe('payment');
    await expect(admin.consumers.info(EVENTS_STREAM, 'sneaky')).rejects.toThrow(/not found/i);
  });

  it("refuses a service pulling from another service's consumer", async () => {
    const consumer = jetstream(sales).consumers.get(EVENTS_STREAM, 'payment');
    expect(await refused(consumer)).toMatch(/permission|timeout/i);
  });

  it("lets a service read by subject only what its consumers deliver: sales may not read a customer's registration", async () => {
    const customer = await t.api.customer(1000);
    const jsm = await jetstreamManager(sales);
    const read = jsm.direct.getMessage(EVENTS_STREAM, { last_by_subj: eventSubject('customer', customer.id, 'CustomerRegistered') });
    expect(await refused(read)).toMatch(/permission|timeout/i);
  });

  it('confirms the sale of an order that its own consumer of OrderPlaced has not delivered: sales reads the OrderPlaced in the log', async () => {
    const admin = await jetstreamManager(t.nc);
    const before = await salesSummary();
    // sales-orders delivers nothing for two minutes (resumed below): sales cannot learn of the order from it.
    await admin.consumers.pause(EVENTS_STREAM, 'sales-orders', new Date(Date.now() + 120_000));
    try {
      const customer = await t.api.customer(100_000);
      const product = await t.api.product(10, 1234);
      const order = await t.api.terminal(await t.api.buy(customer.id, product.id, 2));
      expect(order.status).toBe('COMPLETED');
      const after = await waitFor(
        'the sale of the order',
        async () => {
          const summary = await salesSummary();
          return summary.count > before.count ? summary : undefined;
        },
        30_000,
      );
      expect(after).toEqual({ count: before.count + 1, totalCents: before.totalCents + order.totalCents });
      // The consumer really held the OrderPlaced back: it is still waiting there.
      expect((await admin.consumers.info(EVENTS_STREAM, 'sales-orders')).num_pending).toBeGreaterThan(0);
    } finally {
      await admin.consumers.resume(EVENTS_STREAM, 'sales-orders');
    }
    // When it delivers the OrderPlaced at last, nothing changes: the order is already recorded.
    await waitForConsumerIdle(t.nc, EVENTS_STREAM, 'sales-orders');
    expect((await salesSummary()).count).toBe(before.count + 1);
  });

  it('does not record a sale for a forged PaymentAccepted of an order that does not exist, published with a credential that may publish it', async () => {
    const before = await salesSummary();
    const publishers = [
      ['admin', t.nc],
      ['payment', payment],
    ] as const;
    const forgeries = await Promise.all(
      publishers.map(async ([name, nc]) => {
        const orderId = uuidv7();
        const forged = createEvent(
          'PaymentAccepted',
          orderId,
          { orderId, customerId: uuidv7(), amountCents: 99_999, lines: [{ productId: uuidv7(), quantity: 1, priceCents: 99_999 }] },
          meta(`forged-by-${name}`),
        );
        const ack = await jetstream(nc).publish(eventSubject('payment', orderId, 'PaymentAccepted'), JSON.stringify(forged), {
          msgID: forged.id,
        });
        expect(ack.seq, name).toBeGreaterThan(0);
        return { name, forged };
      }),
    );
    for (const { name, forged } of forgeries) {
      // Refused and routed, never silently dropped: the dead letter names the reason.
      const letter = await waitFor(
        `the forged PaymentAccepted (${name}) in the DLQ`,
        async () => {
          const response = await t.api.call('GET', '/api/dlq?consumer=sales');
          return (response.body?.messages as Array<{ payload: { id?: string }; error: string }> | undefined)?.find(
            (candidate) => candidate.payload?.id === forged.id,
          );
        },
        60_000,
      );
      expect(letter.error).toMatch(/never placed/);
    }
    await waitForConsumerIdle(t.nc, EVENTS_STREAM, 'sales');
    expect(await salesSummary()).toEqual(before);
  });
});
