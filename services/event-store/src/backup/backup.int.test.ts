import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminCredentials, createTestDatabase, type NatsServer, startTestNats } from '@jetsaga/devstack';
import { EVENTS_STREAM } from '@jetsaga/events';
import { connectNats, createPool, ensureTopology, KEYRING_SCHEMA, migrate, type NatsConnection } from '@jetsaga/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { backupEvents, restoreEvents } from './events.js';
import { backupPostgres, restorePostgres } from './postgres.js';
import { migrationsOf, SERVICE_SCHEMAS } from './schemas.js';

let nats: NatsServer;
let nc: NatsConnection;
let dir: string;

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  nc = await connectNats(nats.url, 'backup-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(nc);
  dir = await mkdtemp(join(tmpdir(), 'jetsaga-backup-'));
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

type Read = { seq: number; subject: string; data: string; msgId?: string; trace?: string };

async function readAll(): Promise<Read[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(EVENTS_STREAM);
  const out: Read[] = [];
  for (let seq = 1; seq <= state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
    if (!message) throw new Error(`no message at ${seq}`);
    out.push({
      seq: message.seq,
      subject: message.subject,
      data: message.string(),
      msgId: message.header?.get('Nats-Msg-Id'),
      trace: message.header?.get('traceparent'),
    });
  }
  return out;
}

describe('the backup tool on a real NATS and Postgres', () => {
  it('restores EVENTS into the recreated stream: every message at its position, with its subject, data and headers', async () => {
    const js = jetstream(nc);
    for (let i = 0; i < 120; i++) {
      const hdrs = natsHeaders();
      hdrs.set('traceparent', `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`);
      await js.publish(`events.order.${randomUUID()}.OrderPlaced`, JSON.stringify({ n: i, bytes: randomBytes(8).toString('base64') }), {
        msgID: randomUUID(),
        headers: hdrs,
      });
    }
    const before = await readAll();
    const file = join(dir, 'events.jsonl.gz');
    const backup = await backupEvents(nc, file);
    expect(backup).toMatchObject({ firstSeq: 1, lastSeq: before.length, messages: before.length });

    const jsm = await jetstreamManager(nc);
    // Into a stream that holds messages: refused, nothing written.
    await expect(restoreEvents(nc, file)).rejects.toThrow(/not an empty new stream/);
    await jsm.streams.delete(EVENTS_STREAM);
    await ensureTopology(nc);
    const restored = await restoreEvents(nc, file, { window: 16 });
    expect(restored).toMatchObject({ messages: before.length, lastSeq: before.length });
    expect(await readAll()).toEqual(before);
  });

  it('restores Postgres into an empty database with the release migrations: rows, bytea, jsonb, timestamps and sequences', async () => {
    const url = await createTestDatabase(inject('postgresUrl'), 'backup');
    const schemas = [...Object.keys(SERVICE_SCHEMAS), KEYRING_SCHEMA];
    for (const schema of schemas) {
      const db = createPool(url, schema, { max: 1 });
      await migrate(db, schema, await migrationsOf(schema));
      await db.end();
    }
    const db = new pg.Pool({ connectionString: url, max: 1 });
    const wrapped = randomBytes(48);
    await db.query('INSERT INTO keyring.data_keys (customer_id, key_id, wrapped) VALUES ($1, $2, $3)', [
      randomUUID(),
      randomUUID(),
      wrapped,
    ]);
    await db.query(
      `INSERT INTO keyring.data_keys (customer_id, key_id, wrapped, erased_at) VALUES ($1, $2, NULL, '2026-12-03T10:00:00.123456Z')`,
      [randomUUID(), randomUUID()],
    );
    for (let i = 0; i < 1200; i++) {
      await db.query(`INSERT INTO sales.outbox (message_id, subject, headers, payload) VALUES ($1, $2, $3, $4)`, [
        randomUUID(),
        `events.sale.${i}.SaleConfirmed`,
        { traceparent: `t-${i}` },
        { n: i, note: 'it\'s "quoted" \\ and ünïcode' },
      ]);
    }
    // A table no migration makes (the projection engine creates its tables at run time).
    await db.query(
      'CREATE TABLE eventstore.p_test_totals_v1 (day date, "Kind" text, cents bigint NOT NULL DEFAULT 0, PRIMARY KEY (day, "Kind"))',
    );
    await db.query(`INSERT INTO eventstore.p_test_totals_v1 VALUES ('2026-12-01', 'a', 5), ('2026-12-02', 'b', 7)`);
    const snapshot = async (database: pg.Pool) => ({
      projection: (await database.query('SELECT * FROM eventstore.p_test_totals_v1 ORDER BY day')).rows,
      keys: (await database.query('SELECT customer_id, key_id, wrapped, created_at, erased_at FROM keyring.data_keys ORDER BY customer_id'))
        .rows,
      outbox: (await database.query('SELECT * FROM sales.outbox ORDER BY position')).rows,
      next: (await database.query(`SELECT last_value FROM sales.outbox_position_seq`)).rows,
    });
    const before = await snapshot(db);
    const file = join(dir, 'postgres.jsonl.gz');
    const backup = await backupPostgres(url, file);
    expect(backup.tables.find((table) => table.table === 'sales.outbox')?.rows).toBe(1200);
    expect(Object.keys(backup.migrations).sort()).toEqual([...schemas].sort());

    // Not into tables that hold rows.
    await expect(restorePostgres(url, file, backup)).rejects.toThrow(/has rows/);
    // The database is lost: a new, empty one.
    const fresh = await createTestDatabase(inject('postgresUrl'), 'restored');
    const report = await restorePostgres(fresh, file, backup);
    expect(report.rows).toBe(
      backup.rows - backup.tables.filter((t) => t.table.endsWith('.schema_migrations')).reduce((s, t) => s + t.rows, 0),
    );
    const restoredDb = new pg.Pool({ connectionString: fresh, max: 1 });
    expect(await snapshot(restoredDb)).toEqual(before);
    expect((await snapshot(restoredDb)).keys[0]?.wrapped ?? (await snapshot(restoredDb)).keys[1]?.wrapped).toBeInstanceOf(Buffer);
    // The sequence goes on after the restored rows.
    const next = await restoredDb.query(
      `INSERT INTO sales.outbox (message_id, subject, payload) VALUES ($1, 'x', '{}') RETURNING position`,
      [randomUUID()],
    );
    expect(Number(next.rows[0].position)).toBe(1201);
    await restoredDb.end();
    await db.end();
  });
});
