// What the servers can do on their own, on the same nats-server and Postgres as the system: JetStream async publish
// and consume at the events' real size (natscli `nats bench` and the Node client the services use), and the
// Postgres batched insert the mirror does, into a copy of its table.
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { DeliverPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import pg from 'pg';
import { round } from './processes.mjs';

const run = promisify(execFile);

async function freshStream(jsm, name, subjects) {
  await jsm.streams.delete(name).catch(() => undefined);
  await jsm.streams.add({ name, subjects, storage: StorageType.File, num_replicas: 1 });
}

/**
 * Node client (@nats-io/jetstream, as the outbox relay uses it, message ids included): `window` publishes in flight,
 * then an ordered consumer reads them back.
 */
export async function nodeJetStream(nc, { messages, size, window = 256 }) {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = 'BENCH_NODE';
  await freshStream(jsm, stream, ['bench.node.>']);
  const payload = new Uint8Array(size).fill(120);
  try {
    let started = performance.now();
    let inFlight = [];
    for (let i = 0; i < messages; i++) {
      inFlight.push(js.publish(`bench.node.${i % 1024}`, payload, { msgID: `bench-${i}` }));
      if (inFlight.length >= window) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    const publishSeconds = (performance.now() - started) / 1000;
    const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    started = performance.now();
    const iterator = await consumer.consume({ max_messages: 4096 });
    let read = 0;
    for await (const _msg of iterator) {
      if (++read >= messages) break;
    }
    const consumeSeconds = (performance.now() - started) / 1000;
    return { publishPerSecond: Math.round(messages / publishSeconds), consumePerSecond: Math.round(messages / consumeSeconds), window };
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
  }
}

function natsBenchRate(output, label) {
  const line = output.split('\n').find((text) => text.includes(label) && text.includes('msgs/sec'));
  const match = line && /([\d,]+) msgs\/sec/.exec(line);
  if (!match) throw new Error(`no "${label}" rate in nats bench output:\n${output.slice(-2000)}`);
  return Number(match[1].replaceAll(',', ''));
}

/** natscli `nats bench`: async publish into a file stream (with message ids, as the relay sends), then an ordered consumer over it. */
export async function natsBench(bin, url, { messages, size, credentials }) {
  // The bench runs as the admin: it creates and removes a stream of its own.
  const auth = credentials ? ['--user', credentials.user, '--password', credentials.password] : [];
  const common = ['--server', url, ...auth, '--msgs', String(messages), '--size', String(size), '--no-progress'];
  const stream = 'BENCH_NATSCLI';
  const pub = await run(
    bin,
    ['bench', 'js', 'pub', 'async', 'bench.natscli', '--stream', stream, '--create', '--purge', '--storage', 'file', '--dedup', ...common],
    {
      timeout: 120_000,
      maxBuffer: 1 << 22,
    },
  );
  const sub = await run(bin, ['bench', 'js', 'ordered', '--stream', stream, ...common], { timeout: 120_000, maxBuffer: 1 << 22 });
  await run(bin, ['stream', 'rm', stream, '--force', '--server', url, ...auth], { timeout: 30_000 }).catch(() => undefined);
  return {
    publishPerSecond: natsBenchRate(pub.stdout + pub.stderr, 'publisher stats'),
    consumePerSecond: natsBenchRate(sub.stdout + sub.stderr, 'consumer stats'),
  };
}

/**
 * The mirror's own insert (unnest of 15 arrays, one transaction per batch, ON CONFLICT on the position) into a copy of
 * its table with the same indexes, with real event rows from the mirror: the ceiling for mirror rows/s.
 */
export async function postgresInsert(databaseUrl, { rows, batch = 1000 }) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    const { rows: sample } = await pool.query(
      `SELECT subject, payload, stored_at, valid, id, type, schema_version, aggregate_type, aggregate_id, occurred_at, correlation_id,
              causation_id, actor, data::text AS data
       FROM eventstore.events ORDER BY position LIMIT 2000`,
    );
    if (sample.length === 0) throw new Error('the mirror is empty: nothing to take sample rows from');
    await pool.query('DROP TABLE IF EXISTS public.bench_raw_events');
    await pool.query('CREATE TABLE public.bench_raw_events (LIKE eventstore.events INCLUDING ALL)');
    const started = performance.now();
    for (let start = 0; start < rows; start += batch) {
      const chunk = Array.from({ length: Math.min(batch, rows - start) }, (_, i) => ({
        position: start + i + 1,
        ...sample[(start + i) % sample.length],
      }));
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO public.bench_raw_events (position, subject, payload, stored_at, valid, id, type, schema_version, aggregate_type,
                                                aggregate_id, occurred_at, correlation_id, causation_id, actor, data)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::boolean[], $6::uuid[], $7::text[],
                                $8::integer[], $9::text[], $10::text[], $11::timestamptz[], $12::uuid[], $13::text[], $14::text[], $15::jsonb[])
           ON CONFLICT (position) DO NOTHING`,
          [
            chunk.map((r) => r.position),
            chunk.map((r) => r.subject),
            chunk.map((r) => r.payload),
            chunk.map((r) => r.stored_at),
            chunk.map((r) => r.valid),
            chunk.map((r) => r.id),
            chunk.map((r) => r.type),
            chunk.map((r) => r.schema_version),
            chunk.map((r) => r.aggregate_type),
            chunk.map((r) => r.aggregate_id),
            chunk.map((r) => r.occurred_at),
            chunk.map((r) => r.correlation_id),
            chunk.map((r) => r.causation_id),
            chunk.map((r) => r.actor),
            chunk.map((r) => r.data),
          ],
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return { rowsPerSecond: Math.round(rows / seconds), batch, rows };
  } finally {
    await pool.query('DROP TABLE IF EXISTS public.bench_raw_events').catch(() => undefined);
    await pool.end();
  }
}

export { round };
