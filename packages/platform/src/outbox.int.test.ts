import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { createEvent, type DomainEvent, EVENTS_STREAM, uuidv7 } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Db, migrate, withTransaction } from './db.js';
import { connectNats, ensureTopology, type NatsConnection } from './nats.js';
import { enqueue, enqueueEvents, outboxMigration } from './outbox.js';

const SCHEMA = 'relaytest';
const fixture = fileURLToPath(new URL('../dist/outbox.fixture.js', import.meta.url));

let nats: NatsServer;
let nc: NatsConnection;
let db: Db;
let databaseUrl: string;
const children: ChildProcess[] = [];

function completedEvents(count: number): DomainEvent[] {
  return Array.from({ length: count }, () => {
    const orderId = uuidv7();
    return createEvent(
      'OrderCompleted',
      orderId,
      { orderId },
      {
        id: uuidv7(),
        occurredAt: new Date().toISOString(),
        correlationId: uuidv7(),
        causationId: 'outbox-test',
        actor: 'test',
      },
    );
  });
}

/** Starts the relay in a child process and resolves when it prints the awaited line. */
function startRelay(mode: 'run' | 'hang-after-publish', awaitLine: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, DATABASE_URL: databaseUrl, NATS_URL: nats.url, RELAY_SCHEMA: SCHEMA, RELAY_MODE: mode },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (awaitLine.test(line)) resolve(child);
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

async function unpublished(): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
  return rows[0]?.n ?? 0;
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'));
  databaseUrl = await createTestDatabase(inject('postgresUrl'), 'outbox');
  db = createPool(databaseUrl, SCHEMA);
  await migrate(db, SCHEMA, [outboxMigration]);
  nc = await connectNats(nats.url, 'outbox-test');
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

  it('publishes each committed event exactly once when the relay is killed between commit and publish, and between publish and mark', async () => {
    const events = completedEvents(50);
    // Committed while no relay runs: the moment between commit and publish, frozen.
    await withTransaction(db, (tx) => enqueueEvents(tx, events));
    expect(await unpublished()).toBe(50);

    // This relay publishes, gets JetStream's ack, and is killed -9 before it marks the rows sent.
    const crashing = await startRelay('hang-after-publish', /^published/);
    expect((await streamIds()).length).toBe(50);
    expect(await unpublished()).toBe(50);
    await killHard(crashing);

    // The next relay publishes the same rows again; Nats-Msg-Id makes JetStream store each once.
    const relay = await startRelay('run', /^started/);
    await waitFor('the outbox to drain', async () => (await unpublished()) === 0, 30_000);
    const ids = await streamIds();
    expect(ids.length).toBe(50);
    expect(new Set(ids)).toEqual(new Set(events.map((event) => event.id)));

    // And it keeps relaying what is committed later.
    const later = completedEvents(5);
    await withTransaction(db, (tx) => enqueueEvents(tx, later));
    await waitFor('later events to be relayed', async () => (await streamIds()).length === 55, 30_000);
    await killHard(relay);
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
    const relay = await startRelay('run', /^started/);
    await waitFor('the outbox to drain', async () => (await unpublished()) === 0, 30_000);
    expect(await streamIds()).toContain(after.id);
    const jsm = await jetstreamManager(nc);
    const dead = await jsm.streams.getMessage('DLQ', { last_by_subj: `dlq.outbox-${SCHEMA}` });
    expect(dead?.header.get('Jetsaga-Dlq-Reason')).toBe('rejected');
    expect(dead?.header.get('Jetsaga-Dlq-Subject')).toBe('deadlines.order.x.cancelled');
    await killHard(relay);
  });
});
