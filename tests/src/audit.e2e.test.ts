import { createHash } from 'node:crypto';
import { waitFor } from '@jetsaga/devstack';
import { jetstreamManager } from '@nats-io/jetstream';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { expectProblem } from './support/problems.js';

/** Small, so that a few sagas make several signed checkpoints. */
const CHECKPOINT_EVERY = 20;

type Entry = {
  position: number;
  eventId: string;
  streamSequence: number;
  type: string;
  aggregateType: string;
  aggregateId: string;
  correlationId: string;
  actor: string;
  tags: string[];
  hash: string;
  envelope: { id: string; type: string; data: Record<string, unknown> };
};
type Page = { entries: Entry[]; next: string | null };
type Verdict = {
  ok: boolean;
  from: number;
  to: number;
  checked: number;
  checkpoints: number;
  firstBroken: { position: number; id: string | null; reason: string; detail: string } | null;
};

let t: TestSystem;
let api: Api;
const completed: Array<{ orderId: string; customerId: string }> = [];
let refusedOrderId: string;
let productSku: string;

/** Every entry of a search, following the cursor. */
async function all(query: string, limit = 7): Promise<Entry[]> {
  const entries: Entry[] = [];
  let after: string | null = null;
  do {
    const page: Page = await api.ok('GET', `/api/audit/search?${query}&limit=${limit}${after ? `&after=${after}` : ''}`);
    entries.push(...page.entries);
    after = page.next;
  } while (after);
  return entries;
}

/**
 * The chain's hash as ADR 0051 defines it, written here from the definition (not imported from the service): anyone
 * holding the rows can recompute it. JSON with sorted keys, no whitespace (RFC 8785 for these values).
 */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

function rowHash(previous: Buffer, row: Record<string, any>, actor: string = row.actor): Buffer {
  const entry = {
    position: Number(row.position),
    eventId: row.event_id,
    streamSequence: Number(row.stream_sequence),
    subject: row.subject,
    type: row.type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    correlationId: row.correlation_id,
    actor,
    occurredAt: (row.occurred_at as Date).toISOString(),
    recordedAt: (row.recorded_at as Date).toISOString(),
    tags: row.tags,
    envelope: row.envelope,
  };
  return createHash('sha256').update(previous).update(canonical(entry), 'utf8').digest();
}

const verify = (range = '') => api.ok<Verdict>('GET', `/api/audit/verify${range}`);

/** What EVENTS holds (through the event store's mirror, which keeps every stream message by sequence). */
async function streamEvents(): Promise<Array<{ position: number; id: string }>> {
  const { rows } = await t.sql.query('SELECT position, id FROM eventstore.events ORDER BY position');
  return rows.map((row) => ({ position: Number(row.position), id: row.id as string }));
}

/** Waits until the trail holds every message of EVENTS and the audit consumer is idle. */
async function trailCaughtUp(): Promise<void> {
  const jsm = await jetstreamManager(t.nc);
  await waitFor(
    'the audit trail to hold every event of EVENTS',
    async () => {
      const [stream, consumer] = await Promise.all([jsm.streams.info('EVENTS'), jsm.consumers.info('EVENTS', 'audit')]);
      if (consumer.num_pending > 0 || consumer.num_ack_pending > 0) return false;
      const { rows } = await t.sql.query('SELECT count(*)::int AS n FROM audit.entries');
      const mirrored = (await streamEvents()).length;
      return rows[0].n === stream.state.messages && mirrored === stream.state.messages;
    },
    30_000,
  );
}

/**
 * A superuser session with triggers off (session_replication_role = replica): what someone with database access
 * could do to the rows behind the service's back, and what verify must catch.
 */
async function asSuperuser<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await t.sql.connect();
  try {
    await client.query('SET session_replication_role = replica');
    return await work(client);
  } finally {
    await client.query('RESET session_replication_role').catch(() => undefined);
    client.release();
  }
}

async function previousHash(position: number): Promise<Buffer> {
  const { rows } = await t.sql.query('SELECT hash FROM audit.entries WHERE position = $1::bigint - 1', [position]);
  return rows[0].hash as Buffer;
}

async function head(): Promise<number> {
  const { rows } = await t.sql.query('SELECT max(position)::int AS p FROM audit.entries');
  return rows[0].p as number;
}

beforeAll(async () => {
  t = await startTestSystem({ AUDIT_CHECKPOINT_EVERY: String(CHECKPOINT_EVERY) });
  api = t.api;
  productSku = `AUDIT-${crypto.randomUUID().slice(0, 8)}`;
  const product = await api.ok<{ id: string }>('POST', '/api/products', {
    sku: productSku,
    name: 'Audited lamp',
    priceCents: 1_500,
    stock: 100,
  });
  for (let i = 0; i < 3; i++) {
    const customer = await api.customer(100_000);
    const orderId = await api.buy(customer.id, product.id, 1 + i);
    expect((await api.terminal(orderId)).status).toBe('COMPLETED');
    completed.push({ orderId, customerId: customer.id });
  }
  const poor = await api.customer(100);
  // Bought with the customer's own token: the events' actor is customer:<id>.
  refusedOrderId = await api.as('customer', poor.id).buy(poor.id, product.id, 1);
  expect((await api.terminal(refusedOrderId)).status).toBe('CANCELLED');
  await trailCaughtUp();
});

afterAll(async () => {
  await t?.stop();
});

describe('the audit trail, after sagas', () => {
  it('holds every event of EVENTS exactly once, in stream order', async () => {
    const stream = await streamEvents();
    const { rows } = await t.sql.query('SELECT position, event_id, stream_sequence FROM audit.entries ORDER BY position');
    expect(rows.map((row) => row.event_id).sort()).toEqual(stream.map((event) => event.id).sort());
    expect(new Set(rows.map((row) => row.event_id)).size).toBe(rows.length);
    expect(rows.map((row) => Number(row.position))).toEqual(rows.map((_, index) => index + 1));
    const sequences = rows.map((row) => Number(row.stream_sequence));
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
  });

  it("lists an order's events in chain order with their compliance tags", async () => {
    const { orderId } = completed[0]!;
    const trail: Page = await api.ok('GET', `/api/audit/trail/order/${orderId}`);
    const { rows } = await t.sql.query(
      "SELECT id FROM eventstore.events WHERE aggregate_type = 'order' AND aggregate_id = $1 ORDER BY position",
      [orderId],
    );
    expect(trail.entries.map((entry) => entry.eventId)).toEqual(rows.map((row) => row.id));
    expect(trail.entries.map((entry) => entry.type)).toEqual(expect.arrayContaining(['OrderPlaced', 'OrderCompleted']));
    const positions = trail.entries.map((entry) => entry.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(trail.next).toBeNull();
    // The envelope is the event as published, tagged by the rules: a payment is PCI and FINANCIAL.
    const payment: Page = await api.ok('GET', `/api/audit/search?correlationId=${trail.entries[0]!.correlationId}&type=PaymentAccepted`);
    expect(payment.entries).toHaveLength(1);
    expect(payment.entries[0]!.tags).toEqual(['FINANCIAL', 'PCI']);
    expect(payment.entries[0]!.envelope).toMatchObject({ type: 'PaymentAccepted', data: { orderId } });
    const registered: Page = await api.ok('GET', `/api/audit/trail/customer/${completed[0]!.customerId}`);
    expect(registered.entries.find((entry) => entry.type === 'CustomerRegistered')?.tags).toEqual(['FINANCIAL', 'GDPR']);
    // An aggregate with no events has an empty trail, and an agent may read it.
    expect(await api.as('agent').ok('GET', `/api/audit/trail/order/${crypto.randomUUID()}`)).toEqual({ entries: [], next: null });
  });

  it('searches by type, tag, correlation id, actor, time and full text, in pages', async () => {
    const placed = await all('type=OrderPlaced');
    expect(placed.map((entry) => entry.aggregateId).sort()).toEqual([...completed.map((c) => c.orderId), refusedOrderId].sort());
    const pci = await all('tag=PCI', 2);
    expect(pci.length).toBeGreaterThanOrEqual(4);
    expect(pci.every((entry) => entry.tags.includes('PCI'))).toBe(true);
    expect(pci.map((entry) => entry.type)).toContain('PaymentRefused');
    const saga = placed.find((entry) => entry.aggregateId === refusedOrderId)!;
    const refusedSaga = await all(`correlationId=${saga.correlationId}`);
    expect(refusedSaga.map((entry) => entry.type)).toEqual(expect.arrayContaining(['OrderPlaced', 'PaymentRefused', 'OrderCancelled']));
    expect(refusedSaga.every((entry) => entry.correlationId === saga.correlationId)).toBe(true);
    expect(saga.actor).toMatch(/^customer:/);
    const byActor = await all(`actor=${encodeURIComponent(saga.actor)}&type=OrderPlaced`);
    expect(byActor.map((entry) => entry.aggregateId)).toEqual([refusedOrderId]);
    // Full text over the type and the data: the product's SKU finds its creation, a type name its events.
    const bySku = await all(`q=${encodeURIComponent(productSku)}`);
    expect(bySku.map((entry) => entry.type)).toContain('ProductCreated');
    expect((await all('q=PaymentRefused')).map((entry) => entry.aggregateId)).toEqual(
      (await all('type=PaymentRefused')).map((entry) => entry.aggregateId),
    );
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await api.ok<Page>('GET', `/api/audit/search?from=${future}`)).entries).toEqual([]);
  });

  it('reports a compliance tag as JSON and as CSV with a header and proper quoting', async () => {
    const report = await api.ok('GET', '/api/audit/reports/compliance?tag=FINANCIAL');
    const financial = await all('tag=FINANCIAL', 50);
    expect(report.total).toBe(financial.length);
    expect(report.entries.map((entry: Entry) => entry.eventId)).toEqual(financial.map((entry) => entry.eventId));
    expect(Object.values(report.byType as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(report.total);
    const response = await fetch(`${t.system.gatewayUrl}/api/audit/reports/compliance?tag=FINANCIAL&format=csv`, {
      headers: await api.authHeaders(),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await response.text()).split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe('position,event_id,occurred_at,recorded_at,type,aggregate_type,aggregate_id,correlation_id,actor,tags,hash');
    expect(lines.slice(1, -1)).toHaveLength(report.total);
    const first = lines[1]!.split(',');
    expect(Number(first[0])).toBe(financial[0]!.position);
    expect(first[1]).toBe(financial[0]!.eventId);
    expect(first[9]).toBe(financial[0]!.tags.join('|'));
    const gdpr = await api.ok('GET', `/api/audit/reports/compliance?tag=GDPR&to=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(gdpr.byType.CustomerRegistered).toBe(completed.length + 1);
  });

  it('verifies the whole chain and its signed checkpoints, and a range of it', async () => {
    const all = await verify();
    expect(all).toMatchObject({ ok: true, from: 1, to: await head(), checked: await head(), firstBroken: null });
    expect(all.checkpoints).toBeGreaterThanOrEqual(Math.floor((await head()) / CHECKPOINT_EVERY) - 1);
    expect(await verify('?from=5&to=9')).toMatchObject({ ok: true, checked: 5, firstBroken: null });
  });

  it('signs the head on an admin request, once', async () => {
    const created = await api.call('POST', '/api/audit/checkpoints');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ position: await head(), signature: expect.any(String) });
    const again = await api.call('POST', '/api/audit/checkpoints');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(created.body);
    const status = await api.ok('GET', '/api/audit/status');
    expect(status.lastCheckpoint).toEqual(created.body);
    expect(status.head.position).toBe(await head());
  });

  it('refuses UPDATE and DELETE on its rows in normal operation', async () => {
    await expect(t.sql.query("UPDATE audit.entries SET actor = 'x' WHERE position = 1")).rejects.toThrow(/append-only/);
    await expect(t.sql.query('DELETE FROM audit.entries WHERE position = 1')).rejects.toThrow(/append-only/);
    await expect(t.sql.query('TRUNCATE audit.entries')).rejects.toThrow(/append-only/);
    await expect(t.sql.query('DELETE FROM audit.checkpoints')).rejects.toThrow(/append-only/);
    expect((await verify()).ok).toBe(true);
  });
});

describe('tampering behind the service, caught by verify', () => {
  it('names an entry whose data was changed in SQL, and holds again once it is put back', async () => {
    const position = 7;
    const { rows } = await t.sql.query('SELECT event_id, envelope FROM audit.entries WHERE position = $1', [position]);
    await asSuperuser((sql) =>
      sql.query(`UPDATE audit.entries SET envelope = jsonb_set(envelope, '{data,tampered}', 'true') WHERE position = $1`, [position]),
    );
    expect(await verify()).toMatchObject({ ok: false, firstBroken: { position, id: rows[0].event_id, reason: 'hash-mismatch' } });
    expect(await verify(`?from=${position + 1}`)).toMatchObject({ ok: true });
    await asSuperuser((sql) => sql.query('UPDATE audit.entries SET envelope = $2 WHERE position = $1', [position, rows[0].envelope]));
    expect((await verify()).ok).toBe(true);
  });

  it('names a deleted entry as a missing position', async () => {
    const position = 12;
    const { rows } = await t.sql.query('SELECT * FROM audit.entries WHERE position = $1', [position]);
    const row = rows[0];
    await asSuperuser((sql) => sql.query('DELETE FROM audit.entries WHERE position = $1', [position]));
    expect(await verify()).toMatchObject({ ok: false, firstBroken: { position, id: null, reason: 'missing-position' } });
    await asSuperuser((sql) =>
      sql.query(
        `INSERT INTO audit.entries (position, event_id, stream_sequence, subject, type, aggregate_type, aggregate_id, correlation_id,
                                    actor, occurred_at, recorded_at, tags, envelope, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          row.position,
          row.event_id,
          row.stream_sequence,
          row.subject,
          row.type,
          row.aggregate_type,
          row.aggregate_id,
          row.correlation_id,
          row.actor,
          row.occurred_at,
          row.recorded_at,
          row.tags,
          row.envelope,
          row.hash,
        ],
      ),
    );
    expect((await verify()).ok).toBe(true);
  });

  it('names a forged entry inserted after the head', async () => {
    const position = (await head()) + 1;
    const forged = crypto.randomUUID();
    await asSuperuser((sql) =>
      sql.query(
        `INSERT INTO audit.entries (position, event_id, stream_sequence, subject, type, aggregate_type, aggregate_id, correlation_id,
                                    actor, occurred_at, recorded_at, tags, envelope, hash)
         SELECT $1, $2, stream_sequence + 1, subject, 'PaymentRefunded', aggregate_type, aggregate_id, correlation_id, 'admin:forger',
                occurred_at, recorded_at, ARRAY['FINANCIAL', 'PCI'], envelope, sha256(hash)
         FROM audit.entries WHERE position = $1::bigint - 1`,
        [position, forged],
      ),
    );
    try {
      expect(await verify()).toMatchObject({ ok: false, firstBroken: { position, id: forged, reason: 'hash-mismatch' } });
    } finally {
      await asSuperuser((sql) => sql.query('DELETE FROM audit.entries WHERE event_id = $1', [forged]));
    }
    expect((await verify()).ok).toBe(true);
  });

  it('names a checkpoint whose signature was altered', async () => {
    const { rows } = await t.sql.query('SELECT position, signature FROM audit.checkpoints ORDER BY position LIMIT 1');
    const { position, signature } = rows[0] as { position: string; signature: Buffer };
    const altered = Buffer.from(signature);
    altered[0] = altered[0]! ^ 0xff;
    await asSuperuser((sql) => sql.query('UPDATE audit.checkpoints SET signature = $2 WHERE position = $1', [position, altered]));
    try {
      expect(await verify()).toMatchObject({ ok: false, firstBroken: { position: Number(position), reason: 'signature-invalid' } });
    } finally {
      await asSuperuser((sql) => sql.query('UPDATE audit.checkpoints SET signature = $2 WHERE position = $1', [position, signature]));
    }
    expect((await verify()).ok).toBe(true);
  });

  it('catches a tail rewritten with correct hashes by the signed checkpoint over it', async () => {
    const { rows } = await t.sql.query('SELECT position FROM audit.checkpoints ORDER BY position LIMIT 1');
    const checkpoint = Number(rows[0].position);
    const position = checkpoint - 2;
    // A careful forger changes an entry and recomputes every hash after it: each entry then links to the one before,
    // so only the signature can tell.
    const { rows: tail } = await t.sql.query('SELECT * FROM audit.entries WHERE position >= $1::bigint - 1 ORDER BY position', [position]);
    // The definition recomputed here gives the stored hash: the chain can be checked without the service's code.
    expect(rowHash(await previousHash(position - 1), tail[0])).toEqual(tail[0].hash);
    const original = tail
      .slice(1)
      .map((row) => ({ position: row.position as string, actor: row.actor as string, hash: row.hash as Buffer }));
    let previous = tail[0].hash as Buffer;
    const rewritten: Array<{ position: string; actor: string; hash: Buffer }> = [];
    for (const row of tail.slice(1)) {
      const actor = Number(row.position) === position ? 'admin:someone-else' : (row.actor as string);
      previous = rowHash(previous, row, actor);
      rewritten.push({ position: row.position as string, actor, hash: previous });
    }
    const write = (rows: ReadonlyArray<{ position: string; actor: string; hash: Buffer }>) =>
      asSuperuser(async (sql) => {
        for (const row of rows)
          await sql.query('UPDATE audit.entries SET actor = $2, hash = $3 WHERE position = $1', [row.position, row.actor, row.hash]);
      });
    await write(rewritten);
    try {
      expect(await verify()).toMatchObject({ ok: false, firstBroken: { position: checkpoint, reason: 'checkpoint-mismatch' } });
    } finally {
      await write(original);
    }
    expect((await verify()).ok).toBe(true);
  });
});

describe('bad requests and roles', () => {
  it('answers problem+json naming the field, and changes nothing', async () => {
    const before = await head();
    const cases: Array<[string, number, string?]> = [
      ['/api/audit/verify?from=0', 400, 'from'],
      ['/api/audit/verify?from=9&to=3', 400, 'to'],
      ['/api/audit/verify?to=abc', 400, 'to'],
      ['/api/audit/search?tag=SECRET', 400, 'tag'],
      ['/api/audit/search?correlationId=nope', 400, 'correlationId'],
      ['/api/audit/search?from=yesterday', 400, 'from'],
      ['/api/audit/search?q=%00', 400, 'q'],
      ['/api/audit/search?limit=0', 400, 'limit'],
      ['/api/audit/search?after=not-a-cursor', 400, 'after'],
      ['/api/audit/search?colour=red', 400],
      ['/api/audit/reports/compliance', 400, 'tag'],
      ['/api/audit/reports/compliance?tag=PCI&format=xml', 400, 'format'],
      ['/api/audit/trail/Order!/x', 404],
    ];
    for (const [path, status, field] of cases) expectProblem(await api.call('GET', path), status, field);
    expect(await head()).toBe(before);
  });

  it('lets agents read trails and searches, and only admins verify, report and sign', async () => {
    const agent = api.as('agent');
    expect((await agent.call('GET', '/api/audit/search?limit=1')).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/api/audit/verify'],
      ['GET', '/api/audit/reports/compliance?tag=PCI'],
      ['POST', '/api/audit/checkpoints'],
      ['GET', '/api/audit/status'],
    ] as const)
      expectProblem(await agent.call(method, path), 403);
    const customer = api.as('customer', completed[0]!.customerId);
    expectProblem(await customer.call('GET', `/api/audit/trail/customer/${completed[0]!.customerId}`), 403);
    expectProblem(await api.withToken(null).call('GET', '/api/audit/search'), 401);
  });
});
