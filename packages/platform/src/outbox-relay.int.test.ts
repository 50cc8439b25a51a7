import { createTestDatabase, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Db, migrate, withTransaction } from './db.js';
import { createLogger } from './log.js';
import { connectNats, ensureTopology, type NatsConnection } from './nats.js';
import { orderCompleted } from './events.fixture.js';
import { enqueueEvents, OutboxRelay, outboxMigration } from './outbox.js';

const SCHEMA = 'relaywake';

let nats: NatsServer;
let nc: NatsConnection;
let db: Db;
let relay: OutboxRelay;

async function unpublished(): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
  return rows[0]?.n ?? 0;
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'));
  db = createPool(await createTestDatabase(inject('postgresUrl'), 'relaywake'), SCHEMA);
  await migrate(db, SCHEMA, [outboxMigration]);
  nc = await connectNats(nats.url, 'relay-wake-test');
  await ensureTopology(nc);
  // A fallback poll far beyond the test's deadlines: every row must be relayed because its commit notified the relay.
  relay = new OutboxRelay({ db, nc, schema: SCHEMA, log: createLogger('relay-wake-test', 'warn'), pollIntervalMs: 600_000 });
  relay.start();
});

afterAll(async () => {
  await relay?.stop();
  await nc?.close();
  await db?.end();
  await nats?.stop();
});

describe('outbox relay wake-ups', () => {
  it('relays a row committed while the relay is reading, without waiting for the fallback poll', async () => {
    // Rounds of two commits a moment apart: the second lands while the relay reads again after publishing the first,
    // the moment a notification used to be lost.
    for (let round = 0; round < 150; round++) {
      await withTransaction(db, (tx) => enqueueEvents(tx, [orderCompleted('relay-wake-test')]));
      await new Promise((resolve) => setImmediate(resolve));
      await withTransaction(db, (tx) => enqueueEvents(tx, [orderCompleted('relay-wake-test')]));
      await waitFor(`round ${round} to be relayed`, async () => (await unpublished()) === 0, 5000, 2);
    }
    expect(await unpublished()).toBe(0);
  });

  it('stops at once when asked while it reads, instead of sleeping through its poll interval', async () => {
    const stopping = new OutboxRelay({ db, nc, schema: SCHEMA, log: createLogger('relay-stop-test', 'warn'), pollIntervalMs: 600_000 });
    // stop() arrives while the first read is under way; the relay then found nothing and used to sleep for the poll.
    stopping.start();
    let stopped = false;
    const done = stopping.stop().then(() => {
      stopped = true;
    });
    await waitFor('the relay to stop', async () => stopped, 10_000, 10);
    await done;
  });
});
