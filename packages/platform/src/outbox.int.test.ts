import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { adminCredentials, createTestDatabase, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { type DomainEvent, EVENTS_STREAM, uuidv7 } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Db, migrate, withTransaction } from './db.js';
import { connectNats, ensureTopology, type NatsConnection } from './nats.js';
import { orderCompleted } from './events.fixture.js';
import { enqueue, enqueueEvents, outboxMigration, type RelayFaultPoint } from './outbox.js';

const SCHEMA = 'relaytest';
const fixture = fileURLToPath(new URL('../dist/outbox.fixture.js', import.meta.url));

let nats: NatsServer;
let nc: NatsConnection;
let db: Db;
let databaseUrl: string;
const children: ChildProcess[] = [];

function completedEvents(count: number): DomainEvent[] {
  return Array.from({ length: count }, () => orderCompleted('outbox-test'));
}

/**
 * Starts the relay in a child process and resolves with the first line it prints that matches: `started`, or, with
 * `stopAt`, the line it prints when it reached that fault point and waits there to be killed.
 */
function startRelay(stopAt: RelayFaultPoint | undefined, awaitLine: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [fixture], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      NATS_USER: adminCredentials(inject('natsAuth')).user,
      NATS_PASSWORD: adminCredentials(inject('natsAuth')).password,
      RELAY_SCHEMA: SCHEMA,
      ...(stopAt ? { RELAY_STOP_AT: stopAt } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (awaitLine.test(line)) resolve({ child, line });
    });
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function streamIds(): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(EVENTS_STREAM);
  const ids: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
    if (message) ids.push((message.json() as { id: string }).id);
  }
  return ids;
}

/** How many times each event is in the EVENTS stream, in the order given. */
async function timesStored(events: readonly DomainEvent[]): Promise<number[]> {
  const ids = await streamIds();
  return events.map((event) => ids.filter((id) => id === event.id).length);
}

async function unpublished(): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
  return rows[0]?.n ?? 0;
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  databaseUrl = await createTestDatabase(inject('postgresUrl'), 'outbox');
  db = createPool(databaseUrl, SCHEMA);
  await migrate(db, SCHEMA, [outboxMigration]);
  nc = await connectNats(nats.url, 'outbox-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(nc);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await nc?.close();
  await db?.end();
  await nats?.stop();
});

describe('transactional outbox', () => {
  it('publishes nothing for a transaction that rolled back', async () => {
    await expect(
      withTransaction(db, async (tx) => {
        await enqueueEvents(tx, completedEvents(3));
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
    expect(rows[0]?.n).toBe(0);
  });

  it('publishes each committed event exactly once when a relay that read the rows is killed -9 before publishing them', async () => {
    const events = completedEvents(50);
    await withTransaction(db, (tx) => enqueueEvents(tx, events));

    // This relay has read the committed rows and is killed -9 before it published any of them.
    const crashing = await startRelay('read', /^stopped at read: \d+ rows$/);
    expect(crashing.line).toBe(`stopped at read: ${events.length} rows`);
    expect(await timesStored(events)).toEqual(events.map(() => 0));
    await killHard(crashing.child);
    expect(await unpublished()).toBe(events.length);

    // A fresh relay publishes them: each event is stored once, and the outbox drains.
    const relay = await startRelay(undefined, /^started$/);
    await waitFor('the outbox to drain', async () => (await unpublished()) === 0, 30_000);
    expect(await timesStored(events)).toEqual(events.map(() => 1));

    // And it keeps relaying what is committed later.
    const later = completedEvents(5);
    await withTransaction(db, (tx) => enqueueEvents(tx, later));
    await waitFor('later events to be relayed', async () => (await timesStored(later)).every((n) => n === 1), 30_000);
    await killHard(relay.child);
  });

  it('publishes each committed event exactly once when a relay is killed -9 between publish and mark', async () => {
    const events = completedEvents(50);
    await withTransaction(db, (tx) => enqueueEvents(tx, events));

    // This relay publishes, gets JetStream's ack, and is killed -9 before it marks the rows sent.
    const crashing = await startRelay('published', /^stopped at published: \d+ rows$/);
    expect(crashing.line).toBe(`stopped at published: ${events.length} rows`);
    expect(await timesStored(events)).toEqual(events.map(() => 1));
    await killHard(crashing.child);
    expect(await unpublished()).toBe(events.length);

    // The next relay publishes the same rows again; Nats-Msg-Id makes JetStream store each once.
    const relay = await startRelay(undefined, /^started$/);
    await waitFor('the outbox to drain', async () => (await unpublished()) === 0, 30_000);
    expect(await timesStored(events)).toEqual(events.map(() => 1));
    await killHard(relay.child);
  });

  it('dead-letters a message JetStream refuses, without blocking the ones behind it', async () => {
    const [after] = completedEvents(1);
    if (!after) throw new Error('no event');
    await withTransaction(db, async (tx) => {
      await enqueue(tx, [
        { id: uuidv7(), subject: 'deadlines.order.x.cancelled', payload: {}, headers: { 'Nats-Schedule-Next': 'never' } },
      ]);
      await enqueueEvents(tx, [after]);
    });
    const relay = await startRelay(undefined, /^started$/);
    await waitFor('the outbox to drain', async () => (await unpublished()) === 0, 30_000);
    expect(await timesStored([after])).toEqual([1]);
    const jsm = await jetstreamManager(nc);
    const dead = await jsm.streams.getMessage('DLQ', { last_by_subj: `dlq.outbox-${SCHEMA}` });
    expect(dead?.header.get('Jetsaga-Dlq-Reason')).toBe('rejected');
    expect(dead?.header.get('Jetsaga-Dlq-Subject')).toBe('deadlines.order.x.cancelled');
    // Kept for inspection, but under a name the server does not act on when it stores the dead letter.
    expect(dead?.header.get('Jetsaga-Original-Nats-Schedule-Next')).toBe('never');
    expect(dead?.header.get('Nats-Schedule-Next')).toBe('');
    await killHard(relay.child);
  });
});
