import { adminCredentials, createTestDatabase, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM, type EventDraft, uuidv7 } from '@jetsaga/events';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BatchItem, EventConsumer } from './consumer.js';
import { createPool, type Db, migrate } from './db.js';
import { PermanentError } from './errors.js';
import { inboxMigration } from './inbox.js';
import { createLogger } from './log.js';
import { connectNats, ensureTopology, type NatsConnection } from './nats.js';
import { outboxMigration, outboxPublishAfterCommitMigration } from './outbox.js';
import { type CommandHandler, lockRows, type Reaction, reactor } from './pipeline.js';

/**
 * Batch isolation against real NATS and Postgres: messages published before the consumer starts arrive as one batch;
 * one whose save the database refuses must not roll back or repeat the others, and one whose command the rules refuse
 * must not even split the batch.
 */
const SCHEMA = 'pipelinetest';
const log = createLogger('pipeline-test', 'silent');
const counters = {
  id: 'test/001_counters',
  // The CHECK is the poison: a message adding more than 100 fails in the database, inside the batch's transaction.
  sql: 'CREATE TABLE counters (id uuid PRIMARY KEY, total integer NOT NULL CHECK (total <= 100))',
};

type Added = { id: string; type: 'Added'; correlationId: string; counterId: string; amount: number };
type Counter = { total: number; added: number };
type Add = { amount: number };

let nats: NatsServer;
let nc: NatsConnection;
let db: Db;

/** Adds to a counter; each applied message adds once (the save adds, so a message applied twice shows). */
const counterHandler: CommandHandler<Counter, Add, EventDraft<'PaymentRefused'>> = {
  initialState: { total: 0, added: 0 },
  load: (tx, ids) =>
    lockRows(tx, { table: 'counters', key: 'id', columns: 'id, total' }, ids, (row: { total: number }) => ({ total: row.total, added: 0 })),
  decide: (_state, command) => {
    if (command.amount < 0) throw new PermanentError('a counter never goes down');
    // Any event with an amount stands for "added" here.
    const data = { orderId: uuidv7(), customerId: uuidv7(), amountCents: command.amount, reason: 'INSUFFICIENT_FUNDS' } as const;
    return [{ type: 'PaymentRefused', data }];
  },
  evolve: (state, event) => ({ total: state.total, added: state.added + event.data.amountCents }),
  async save(tx, changes) {
    await tx.query(
      `INSERT INTO counters (id, total) SELECT * FROM unnest($1::uuid[], $2::int[])
       ON CONFLICT (id) DO UPDATE SET total = counters.total + EXCLUDED.total`,
      [changes.map((change) => change.id), changes.map((change) => change.state.added)],
    );
  },
};

function reaction(durable: string): Reaction<Added, Counter, Add> {
  return {
    spec: { stream: EVENTS_STREAM, durable, filterSubjects: [`events.counter.*.${durable}`], backoffMs: [20], maxAttempts: 2 },
    decode: (data) => JSON.parse(new TextDecoder().decode(data)) as Added,
    react: (message) => ({ id: message.counterId, command: { amount: message.amount } }),
    actor: 'test',
    handler: counterHandler,
  };
}

async function publish(durable: string, counterId: string, amount: number): Promise<Added> {
  const message: Added = { id: uuidv7(), type: 'Added', correlationId: uuidv7(), counterId, amount };
  await jetstream(nc).publish(`events.counter.${counterId}.${durable}`, JSON.stringify(message), { msgID: message.id });
  return message;
}

async function totals(ids: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; total: number }>('SELECT id, total FROM counters WHERE id = ANY($1::uuid[])', [ids]);
  return new Map(rows.map((row) => [row.id, row.total]));
}

async function deadLetters(durable: string): Promise<Array<{ reason: string; id: string }>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info('DLQ');
  const found = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage('DLQ', { seq }).catch(() => undefined);
    if (message?.subject === `dlq.${durable}`) {
      found.push({ reason: message.header.get('Jetsaga-Dlq-Reason'), id: (message.json() as Added).id });
    }
  }
  return found;
}

/** Runs the reaction's consumer, recording the size of every batch its handler was given. */
async function runConsumer(durable: string, until: () => Promise<boolean>): Promise<number[]> {
  const definition = reactor({ db, now: () => new Date(), newId: uuidv7 }, reaction(durable));
  const sizes: number[] = [];
  const consumer = new EventConsumer<Added>({
    createMissing: true,
    nc,
    log,
    spec: definition.spec,
    decode: definition.decode ?? ((data) => JSON.parse(new TextDecoder().decode(data)) as Added),
    handleBatch: (items: readonly BatchItem<Added>[]) => {
      sizes.push(items.length);
      return definition.handleBatch(items);
    },
  });
  await consumer.start();
  try {
    await waitFor(`${durable} to finish`, until, 20_000);
  } finally {
    await consumer.stop();
  }
  return sizes;
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  nc = await connectNats(nats.url, 'pipeline-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(nc);
  db = createPool(await createTestDatabase(inject('postgresUrl'), 'pipeline'), SCHEMA);
  await migrate(db, SCHEMA, [outboxMigration, inboxMigration, outboxPublishAfterCommitMigration, counters]);
});

afterAll(async () => {
  await db?.end();
  await nc?.close();
  await nats?.stop();
});

describe('batched reactions', () => {
  it('commits the good messages of a batch once and dead-letters the one the database refuses', async () => {
    const durable = 'isolation';
    const ids = Array.from({ length: 40 }, () => uuidv7());
    const good = [];
    for (const [index, id] of ids.entries()) {
      good.push(await publish(durable, id, (index % 10) + 1));
      if (index === 20) await publish(durable, uuidv7(), 1000);
    }
    const sizes = await runConsumer(
      durable,
      async () => (await deadLetters(durable)).length === 1 && (await totals(ids)).size === ids.length,
    );
    // The batch was one transaction at first (more than one message), then split once.
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    const applied = await totals(ids);
    expect(ids.map((id) => applied.get(id))).toEqual(good.map((message) => message.amount));
    expect(await deadLetters(durable)).toEqual([{ reason: 'exhausted', id: expect.any(String) }]);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox WHERE consumer = $1', [durable]);
    expect(rows[0]?.n).toBe(ids.length);
  });

  it('dead-letters a command the rules refuse at once, and commits the rest of its batch without splitting it', async () => {
    const durable = 'refusal';
    const ids = Array.from({ length: 30 }, () => uuidv7());
    for (const [index, id] of ids.entries()) {
      await publish(durable, id, 2);
      if (index === 10) await publish(durable, uuidv7(), -5);
    }
    const sizes = await runConsumer(
      durable,
      async () => (await deadLetters(durable)).length === 1 && (await totals(ids)).size === ids.length,
    );
    const applied = await totals(ids);
    expect(ids.map((id) => applied.get(id))).toEqual(ids.map(() => 2));
    expect((await deadLetters(durable)).map((letter) => letter.reason)).toEqual(['permanent']);
    // 31 messages, each handled in exactly one batch: no batch was retried one by one.
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(31);
  });
});
