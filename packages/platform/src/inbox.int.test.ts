import { adminCredentials, createTestDatabase, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { type DomainEvent, EVENTS_STREAM, eventSubject, eventTypeFilter, uuidv7 } from '@jetsaga/events';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EventConsumer } from './consumer.js';
import { createPool, type Db, migrate, withTransaction } from './db.js';
import { orderCompleted } from './events.fixture.js';
import { claimEvent, inboxMigration } from './inbox.js';
import { createLogger } from './log.js';
import { connectNats, ensureTopology, type NatsConnection } from './nats.js';
import { decodeEvent } from './service.js';

/**
 * The inbox alone makes an effect exactly-once here: the effect is a plain insert that nothing else guards (no unique
 * key, no state to compare), so every delivery that got past the claim would leave one more row.
 */
const SCHEMA = 'inboxtest';
const effects = {
  id: 'test/001_effects',
  sql: 'CREATE TABLE effects (event_id uuid NOT NULL, delivery integer NOT NULL)',
};

let nats: NatsServer;
let nc: NatsConnection;
let db: Db;
const log = createLogger('inbox-test', 'silent');

async function publishCopy(event: DomainEvent): Promise<void> {
  // A new Nats-Msg-Id gets past the stream's de-duplication: the consumer really receives the event again.
  await jetstream(nc).publish(eventSubject(event.aggregateType, event.aggregateId, event.type), JSON.stringify(event), { msgID: uuidv7() });
}

async function rowsOf(table: 'effects' | 'inbox', eventId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE event_id = $1`, [eventId]);
  return rows[0]?.n ?? 0;
}

async function idle(durable: string): Promise<boolean> {
  const info = await (await jetstreamManager(nc)).consumers.info(EVENTS_STREAM, durable);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

/** A consumer whose handler claims the event and applies the effect in one transaction, as every slice does. */
function effectConsumer(
  durable: string,
  deliveries: Array<{ eventId: string; count: number }>,
  afterCommit?: (eventId: string, count: number) => void,
) {
  return new EventConsumer({
    createMissing: true,
    nc,
    log,
    spec: { stream: EVENTS_STREAM, durable, filterSubjects: [eventTypeFilter('OrderCompleted')], backoffMs: [20] },
    decode: decodeEvent,
    handle: async (event, delivery) => {
      deliveries.push({ eventId: event.id, count: delivery.deliveryCount });
      await withTransaction(db, async (tx) => {
        if (!(await claimEvent(tx, durable, event))) return;
        await tx.query('INSERT INTO effects (event_id, delivery) VALUES ($1, $2)', [event.id, delivery.deliveryCount]);
      });
      afterCommit?.(event.id, delivery.deliveryCount);
    },
  });
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  nc = await connectNats(nats.url, 'inbox-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(nc);
  db = createPool(await createTestDatabase(inject('postgresUrl'), 'inbox'), SCHEMA);
  await migrate(db, SCHEMA, [inboxMigration, effects]);
});

afterAll(async () => {
  await db?.end();
  await nc?.close();
  await nats?.stop();
});

describe('inbox', () => {
  it('applies an event delivered three times once: the copies are consumed and change nothing', async () => {
    const event = orderCompleted('inbox-test');
    const deliveries: Array<{ eventId: string; count: number }> = [];
    const consumer = effectConsumer('inbox-copies', deliveries);
    await consumer.start();
    for (let copy = 0; copy < 3; copy++) await publishCopy(event);
    await waitFor('the three copies to be handled', async () => deliveries.length === 3 && (await idle('inbox-copies')), 20_000);
    await consumer.stop();
    expect(deliveries.map((delivery) => delivery.eventId)).toEqual([event.id, event.id, event.id]);
    expect(await rowsOf('effects', event.id)).toBe(1);
    expect(await rowsOf('inbox', event.id)).toBe(1);
  });

  it('applies an event redelivered after its effect committed (lost ack) once', async () => {
    const event = orderCompleted('inbox-test');
    const deliveries: Array<{ eventId: string; count: number }> = [];
    // The first attempt commits its effect, then fails before the ack, as a process killed between the two would.
    const consumer = effectConsumer('inbox-redelivery', deliveries, (eventId, count) => {
      if (eventId === event.id && count === 1) throw new Error('lost before the ack');
    });
    await consumer.start();
    await publishCopy(event);
    // The consumer also reads the earlier test's copies (it starts at the stream's beginning): count this event's only.
    const ofThis = () => deliveries.filter((delivery) => delivery.eventId === event.id);
    await waitFor('the redelivery to be handled', async () => ofThis().length === 2 && (await idle('inbox-redelivery')), 20_000);
    await consumer.stop();
    expect(ofThis().map((delivery) => delivery.count)).toEqual([1, 2]);
    expect(await rowsOf('effects', event.id)).toBe(1);
    const { rows } = await db.query<{ delivery: number }>('SELECT delivery FROM effects WHERE event_id = $1', [event.id]);
    expect(rows).toEqual([{ delivery: 1 }]);
  });
});
