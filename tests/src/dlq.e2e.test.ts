import { waitFor } from '@jetsaga/devstack';
import { createEvent, EVENTS_STREAM, eventSubject, uuidv7 } from '@jetsaga/events';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { subjectMatches } from './support/observability.js';

let t: TestSystem;
let api: Api;

type DeadLetter = {
  id: string;
  consumer: string;
  subject: string;
  type: string | null;
  reason: string;
  attempts: number;
  error: string;
  payload: unknown;
};

async function letters(query: string): Promise<DeadLetter[]> {
  const response = await api.call('GET', `/api/dlq?${query}`);
  expect(response.status).toBe(200);
  return response.body.messages;
}

function saleFor(orderId: string) {
  return createEvent(
    'SaleConfirmed',
    orderId,
    { orderId, customerId: uuidv7(), lines: [{ productId: uuidv7(), quantity: 1, priceCents: 100 }], totalCents: 100 },
    { id: uuidv7(), occurredAt: new Date().toISOString(), correlationId: uuidv7(), causationId: 'dlq-test', actor: 'test' },
  );
}

beforeAll(async () => {
  t = await startTestSystem();
  api = t.api;
});

afterAll(async () => {
  await t?.stop();
});

describe('dead letters', () => {
  it('sends poison to the DLQ at once, with its subject, consumer and error, and keeps consuming', async () => {
    const orderId = uuidv7();
    await jetstream(t.nc).publish(eventSubject('reservation', orderId, 'StockReserved'), '{"this is": not json');
    const [letter] = await waitFor('the poison message in the DLQ', async () => {
      const found = await letters('consumer=payment');
      return found.length > 0 ? found : undefined;
    });
    expect(letter).toMatchObject({
      consumer: 'payment',
      subject: `events.reservation.${orderId}.StockReserved`,
      type: 'StockReserved',
      reason: 'poison',
      attempts: 1,
      payload: '{"this is": not json',
    });
    expect(letter?.error).toMatch(/JSON/);
    // The consumer behind it is not blocked: a saga still completes.
    const customer = await api.customer(10_000);
    const product = await api.product(5, 100);
    expect((await api.terminal(await api.buy(customer.id, product.id, 1))).status).toBe('COMPLETED');
    // Exactly one letter per durable consumer whose filter takes the subject (payment, and audit's trail of every event),
    // none from any other consumer (inventory does not read StockReserved).
    const subject = eventSubject('reservation', orderId, 'StockReserved');
    const readers = (await jetstreamManager(t.nc).then((jsm) => jsm.consumers.list(EVENTS_STREAM).next()))
      .filter((info) => info.config.durable_name !== undefined)
      .filter((info) => (info.config.filter_subjects ?? [info.config.filter_subject ?? '>']).some((f) => subjectMatches(f, subject)))
      .map((info) => info.name)
      .sort();
    expect(readers).toContain('payment');
    const all = await waitFor('a letter from every consumer that reads the subject', async () => {
      const found = (await letters('type=StockReserved')).filter((l) => l.subject === subject);
      return found.length >= readers.length ? found : undefined;
    });
    expect(all.map((l) => l.consumer).sort()).toEqual(readers);
    expect(await letters('consumer=inventory')).toHaveLength(0);
  });

  it('redrives a dead letter to its own consumer only, once; deletes one', async () => {
    const sale = saleFor(uuidv7());
    // The order service cannot apply a sale for an order it never placed: a permanent error, dead-lettered at once.
    await jetstream(t.nc).publish(eventSubject('sale', sale.aggregateId, 'SaleConfirmed'), JSON.stringify(sale), { msgID: sale.id });
    const first = await waitFor('the sale in the DLQ', async () =>
      (await letters('consumer=order&type=SaleConfirmed')).find((l) => (l.payload as { id: string }).id === sale.id),
    );
    expect(first).toMatchObject({ reason: 'permanent', attempts: 1 });
    expect(first.error).toMatch(/does not exist/);
    expect((await api.call('GET', `/api/dlq/${first.id}`)).body).toEqual(first);

    const redrive = await api.call('POST', `/api/dlq/${first.id}/redrive`);
    expect(redrive.status).toBe(202);
    expect((await api.call('POST', `/api/dlq/${first.id}/redrive`)).status).toBe(404);
    expect((await api.call('GET', `/api/dlq/${first.id}`)).status).toBe(404);
    // The order consumer got it again (and dead-lettered it again, naming the original subject); inventory did not.
    const second = await waitFor('the redriven sale back in the DLQ', async () =>
      (await letters('consumer=order&type=SaleConfirmed')).find((l) => (l.payload as { id: string }).id === sale.id && l.id !== first.id),
    );
    expect(second.subject).toBe(first.subject);
    const { rows } = await t.sql.query('SELECT count(*)::int AS n FROM inventory.inbox WHERE event_id = $1', [sale.id]);
    expect(rows[0].n).toBe(1);

    expect((await api.call('DELETE', `/api/dlq/${second.id}`)).status).toBe(204);
    expect((await api.call('GET', `/api/dlq/${second.id}`)).status).toBe(404);
    expect((await api.call('GET', '/api/dlq/not-a-number')).status).toBe(404);
  });

  it('catches a message a consumer gave up on without dead-lettering it (max-deliveries advisory)', async () => {
    const jsm = await jetstreamManager(t.nc);
    const sale = saleFor(uuidv7());
    const subject = `events.probe.${sale.aggregateId}.Probe`;
    // A consumer that takes the message and never settles it, as a process dying on its last attempt would.
    await jsm.consumers.add(EVENTS_STREAM, {
      durable_name: 'crashing-probe',
      ack_policy: AckPolicy.Explicit,
      filter_subjects: [subject],
      max_deliver: 1,
      ack_wait: nanos(500),
    });
    await jetstream(t.nc).publish(subject, JSON.stringify(sale));
    const probe = await jetstream(t.nc).consumers.get(EVENTS_STREAM, 'crashing-probe');
    const taken = await probe.next({ expires: 5000 });
    expect(taken?.subject).toBe(subject);
    const letter = await waitFor(
      'the advisory to bring it to the DLQ',
      async () => (await letters('consumer=crashing-probe'))[0],
      30_000,
      100,
    );
    expect(letter).toMatchObject({ consumer: 'crashing-probe', subject, reason: 'max-deliveries', attempts: 1 });
  });

  it('answers bad queries with problem+json', async () => {
    expect((await api.call('GET', '/api/dlq?limit=0')).status).toBe(400);
    expect((await api.call('GET', '/api/dlq?consumer=a.b')).status).toBe(400);
    expect((await api.call('POST', `/api/dlq/999999/redrive`)).status).toBe(404);
  });
});
