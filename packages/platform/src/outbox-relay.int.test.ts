import { adminCredentials, createTestDatabase, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { createEvent, type DomainEvent, EVENTS_STREAM, uuidv7 } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Db, migrate, withTransaction } from './db.js';
import { createLogger } from './log.js';
import { connectNats, ensureTopology, type NatsConnection } from './nats.js';
import { enqueueEvents, OutboxPublisher, OutboxRelay, outboxMigration, outboxPublishAfterCommitMigration } from './outbox.js';

/**
 * Publish after commit: the process that committed publishes its rows itself, and the relay only sweeps what it left
 * (a crash between commit and publish, a failed publish), in order.
 */
const SCHEMA = 'publishtest';
const log = createLogger('publish-test', 'silent');

let nats: NatsServer;
let nc: NatsConnection;
let db: Db;

/** The n-th event of one order's stream (OrderCompleted stands for any event: the test reads only ids and order). */
function eventOf(orderId: string, n: number): DomainEvent {
  return createEvent(
    'OrderCompleted',
    orderId,
    { orderId },
    { id: uuidv7(), occurredAt: new Date().toISOString(), correlationId: orderId, causationId: `step-${n}`, actor: 'test' },
  );
}

async function outboxRows(): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
  return rows[0]?.n ?? 0;
}

/** The ids of the events stored for these orders, in stream order. */
async function stored(orderIds: ReadonlySet<string>): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(EVENTS_STREAM);
  const ids: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(EVENTS_STREAM, { seq }).catch(() => undefined);
    const event = message?.json() as DomainEvent | undefined;
    if (event && orderIds.has(event.aggregateId)) ids.push(event.id);
  }
  return ids;
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  db = createPool(await createTestDatabase(inject('postgresUrl'), 'publish'), SCHEMA);
  await migrate(db, SCHEMA, [outboxMigration, outboxPublishAfterCommitMigration]);
  nc = await connectNats(nats.url, 'publish-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(nc);
});

afterAll(async () => {
  await nc?.close();
  await db?.end();
  await nats?.stop();
});

describe('publish after commit', () => {
  it('publishes committed rows with no relay running, each aggregate in commit order, and deletes them', async () => {
    const publisher = new OutboxPublisher({ db, nc, log }).attach();
    try {
      const orders = Array.from({ length: 10 }, () => uuidv7());
      const streams = new Map(orders.map((orderId) => [orderId, Array.from({ length: 8 }, (_, n) => eventOf(orderId, n))]));
      // Ten orders committing at once, each its own events one transaction after another.
      await Promise.all(
        orders.map(async (orderId) => {
          for (const event of streams.get(orderId) ?? []) await withTransaction(db, (tx) => enqueueEvents(tx, [event]));
        }),
      );
      await waitFor('the outbox to be empty', async () => (await outboxRows()) === 0, 10_000, 5);
      const ids = await stored(new Set(orders));
      expect(ids).toHaveLength(80);
      for (const [orderId, events] of streams) {
        const inStream = ids.filter((id) => events.some((event) => event.id === id));
        expect(inStream, `order ${orderId}`).toEqual(events.map((event) => event.id));
      }
    } finally {
      await publisher.stop();
    }
  });

  it('leaves a row whose publish failed to the relay, and later rows of its aggregate wait behind it', async () => {
    const failing = uuidv7();
    const other = uuidv7();
    const [first, second, third] = [eventOf(failing, 0), eventOf(failing, 1), eventOf(failing, 2)];
    const unrelated = eventOf(other, 0);
    if (!first || !second || !third) throw new Error('no events');
    const publisher = new OutboxPublisher({ db, nc, log, failPublish: (row) => row.message_id === first.id }).attach();
    try {
      await withTransaction(db, (tx) => enqueueEvents(tx, [first]));
      await withTransaction(db, (tx) => enqueueEvents(tx, [second]));
      await withTransaction(db, (tx) => enqueueEvents(tx, [third]));
      await withTransaction(db, (tx) => enqueueEvents(tx, [unrelated]));
      await waitFor('the other order to be published', async () => (await stored(new Set([other]))).length === 1, 10_000, 5);
      await waitFor('the publisher to settle', async () => publisher.pending === 0, 10_000, 5);
      // Nothing of the failing order went out: the later rows did not overtake the failed one.
      expect(await stored(new Set([failing]))).toEqual([]);
      expect(await outboxRows()).toBe(3);

      const relay = new OutboxRelay({ db, nc, schema: SCHEMA, log, pollIntervalMs: 20, graceMs: 0 });
      relay.start();
      try {
        await waitFor('the relay to sweep', async () => (await outboxRows()) === 0, 10_000, 5);
      } finally {
        await relay.stop();
      }
      expect(await stored(new Set([failing]))).toEqual([first.id, second.id, third.id]);

      // Once the relay sent them, the order publishes directly again (no relay runs now).
      await waitFor('the publisher to see the rows sent', async () => publisher.waiting === 0, 10_000, 10);
      const fourth = eventOf(failing, 3);
      await withTransaction(db, (tx) => enqueueEvents(tx, [fourth]));
      await waitFor('the fourth to be published directly', async () => (await stored(new Set([failing]))).length === 4, 10_000, 5);
      expect(await stored(new Set([failing]))).toEqual([first.id, second.id, third.id, fourth.id]);
    } finally {
      await publisher.stop();
    }
  });

  it('a crash between commit and publish is swept by the relay, each event stored once', async () => {
    // No publisher: the process committed and died before it could publish.
    const orderId = uuidv7();
    const events = Array.from({ length: 20 }, (_, n) => eventOf(orderId, n));
    await withTransaction(db, (tx) => enqueueEvents(tx, events));
    expect(await outboxRows()).toBe(20);
    const relay = new OutboxRelay({ db, nc, schema: SCHEMA, log, pollIntervalMs: 20, graceMs: 0 });
    relay.start();
    try {
      await waitFor('the relay to sweep', async () => (await outboxRows()) === 0, 10_000, 5);
    } finally {
      await relay.stop();
    }
    expect(await stored(new Set([orderId]))).toEqual(events.map((event) => event.id));
  });

  it('the relay leaves rows younger than its grace to the process that committed them', async () => {
    const orderId = uuidv7();
    await withTransaction(db, (tx) => enqueueEvents(tx, [eventOf(orderId, 0)]));
    const relay = new OutboxRelay({ db, nc, schema: SCHEMA, log, graceMs: 60_000, pollIntervalMs: 600_000 });
    try {
      expect(await relay.publishBatch()).toBe(0);
      expect(await outboxRows()).toBe(1);
    } finally {
      await relay.stop();
      await db.query('DELETE FROM outbox');
    }
  });

  it('stops at once when asked while it reads, instead of sleeping through its poll interval', async () => {
    const stopping = new OutboxRelay({ db, nc, schema: SCHEMA, log, pollIntervalMs: 600_000 });
    stopping.start();
    let stopped = false;
    const done = stopping.stop().then(() => {
      stopped = true;
    });
    await waitFor('the relay to stop', async () => stopped, 10_000, 10);
    await done;
  });
});
