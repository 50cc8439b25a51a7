import { adminCredentials, createTestDatabase, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { createEvent, EVENTS_STREAM, uuidv7 } from '@jetsaga/events';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EventConsumer } from './consumer.js';
import { createPool, type Db, migrate, withTransaction } from './db.js';
import { createLogger } from './log.js';
import { watchOutbox } from './messaging-metrics.js';
import { metricsRegistry, startMetricsServer, type MetricsServer } from './metrics.js';
import { connectNats, ensureTopology, type NatsConnection } from './nats.js';
import { enqueueEvents, OutboxRelay, outboxMigration } from './outbox.js';

/** What the platform counts for a consumer and a relay, read the way Prometheus reads it: from the metrics port. */

const SCHEMA = 'metricstest';
const CONSUMER = 'metrics-test';
const log = createLogger('metrics-test', 'silent');
let nats: NatsServer;
let nc: NatsConnection;
let db: Db;
let server: MetricsServer;

async function scrape(): Promise<string> {
  const response = await fetch(server.url, { headers: { accept: 'application/openmetrics-text' } });
  expect(response.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
  return response.text();
}

/** The value of one series in an OpenMetrics scrape, or undefined when the series is absent. */
function valueOf(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) && Object.keys(labels).length === 0) return Number(line.split(' ')[1]);
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    if (Object.entries(labels).every(([key, value]) => body.includes(`${key}="${value}"`))) {
      return Number(
        line
          .slice(line.indexOf('}') + 1)
          .trim()
          .split(' ')[0],
      );
    }
  }
  return undefined;
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  nc = await connectNats(nats.url, 'metrics-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(nc);
  db = createPool(await createTestDatabase(inject('postgresUrl'), 'metrics'), SCHEMA);
  await migrate(db, SCHEMA, [outboxMigration]);
  server = await startMetricsServer({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await server?.close();
  await nc?.close();
  await db?.end();
  await nats?.stop();
});

describe('consumer metrics', () => {
  it('count an ack, a retry, a redelivery and a poison message, and report the DLQ depth and consumer state', async () => {
    const failedOnce = new Set<string>();
    const consumer = new EventConsumer<{ id: string }>({
      createMissing: true,
      nc,
      log,
      spec: { stream: EVENTS_STREAM, durable: CONSUMER, filterSubjects: ['events.probe.*.Ping'], backoffMs: [50] },
      decode: (data) => JSON.parse(new TextDecoder().decode(data)) as { id: string },
      handle: async (message) => {
        // A transient failure the first time: the message comes back and succeeds.
        if (!failedOnce.has(message.id)) {
          failedOnce.add(message.id);
          throw new Error('not yet');
        }
      },
    });
    await consumer.start();
    try {
      const js = jetstream(nc);
      await js.publish(`events.probe.${uuidv7()}.Ping`, JSON.stringify({ id: uuidv7(), type: 'Ping', correlationId: uuidv7() }));
      await js.publish(`events.probe.${uuidv7()}.Ping`, 'not json', { msgID: uuidv7() });
      const jsm = await jetstreamManager(nc);
      await waitFor('the consumer to settle both messages', async () => {
        const info = await jsm.consumers.info(EVENTS_STREAM, CONSUMER);
        return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq === 2;
      });
      const text = await scrape();
      const labels = { consumer: CONSUMER, event_type: 'Ping' };
      expect(valueOf(text, 'jetsaga_events_consumed_total', labels)).toBe(1);
      expect(valueOf(text, 'jetsaga_events_failed_total', { ...labels, reason: 'retry' })).toBe(1);
      expect(valueOf(text, 'jetsaga_events_failed_total', { ...labels, reason: 'poison' })).toBe(1);
      expect(valueOf(text, 'jetsaga_events_redelivered_total', labels)).toBe(1);
      expect(valueOf(text, 'jetsaga_event_handler_duration_seconds_count', { ...labels, outcome: 'ack' })).toBe(1);
      expect(valueOf(text, 'jetsaga_event_handler_duration_seconds_count', { ...labels, outcome: 'retry' })).toBe(1);
      expect(valueOf(text, 'jetsaga_dlq_messages', { consumer: CONSUMER })).toBe(1);
      expect(valueOf(text, 'jetsaga_consumer_pending_messages', { stream: EVENTS_STREAM, consumer: CONSUMER })).toBe(0);
      expect(valueOf(text, 'jetsaga_consumer_ack_pending_messages', { stream: EVENTS_STREAM, consumer: CONSUMER })).toBe(0);
      // Without a started SDK there is no trace to point at: no exemplar is made up.
      expect(text).not.toMatch(/jetsaga_event_handler_duration_seconds_bucket\{[^}]*\} \d+ # \{/);
    } finally {
      await consumer.stop();
    }
  });
});

describe('outbox metrics', () => {
  it('report the backlog while rows wait, then count what the relay published and how long it took', async () => {
    watchOutbox(db, SCHEMA, log);
    const events = Array.from({ length: 3 }, () => {
      const orderId = uuidv7();
      return createEvent(
        'OrderCompleted',
        orderId,
        { orderId },
        { id: uuidv7(), occurredAt: new Date().toISOString(), correlationId: uuidv7(), causationId: 'metrics-test', actor: 'test' },
      );
    });
    await withTransaction(db, (tx) => enqueueEvents(tx, events));
    const before = await scrape();
    expect(valueOf(before, 'jetsaga_outbox_backlog_messages', { outbox: SCHEMA })).toBe(3);
    expect(valueOf(before, 'jetsaga_outbox_oldest_unpublished_age_seconds', { outbox: SCHEMA })).toBeGreaterThanOrEqual(0);
    const published = valueOf(before, 'jetsaga_events_published_total', { event_type: 'OrderCompleted' }) ?? 0;

    const relay = new OutboxRelay({ db, nc, schema: SCHEMA, log, pollIntervalMs: 50 });
    relay.start();
    try {
      await waitFor('the outbox to drain', async () => (await relay.backlog()) === 0);
    } finally {
      await relay.stop();
    }
    const after = await scrape();
    expect(valueOf(after, 'jetsaga_outbox_backlog_messages', { outbox: SCHEMA })).toBe(0);
    expect(valueOf(after, 'jetsaga_outbox_oldest_unpublished_age_seconds', { outbox: SCHEMA })).toBe(0);
    expect(valueOf(after, 'jetsaga_events_published_total', { event_type: 'OrderCompleted' })).toBe(published + 3);
    expect(valueOf(after, 'jetsaga_outbox_relay_latency_seconds_count', {})).toBeGreaterThanOrEqual(3);
    expect(metricsRegistry().getSingleMetric('jetsaga_outbox_backlog_messages')).toBeDefined();
  });
});
