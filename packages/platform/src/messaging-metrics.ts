import { DLQ_STREAM } from '@jetsaga/events';
import { type JetStreamManager, type JsMsg, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Db } from './db.js';
import type { Logger } from './log.js';
import { counter, gauge, histogram, LATENCY_BUCKETS, observe, sharedRead } from './metrics.js';
import { markFailed, messageTypeOf, traceProcess, traceSend } from './telemetry.js';

/** The platform's own instruments: what the outbox relay and the consumers do, and what JetStream holds for them. */
const instruments = {
  published: () =>
    counter({
      name: 'jetsaga_events_published_total',
      help: 'Messages the outbox relay published and JetStream acknowledged, by event type.',
      labelNames: ['event_type'] as const,
    }),
  relayLatency: () =>
    histogram({
      name: 'jetsaga_outbox_relay_latency_seconds',
      help: 'Time from an outbox row being written to JetStream acknowledging it.',
      buckets: LATENCY_BUCKETS,
    }),
  consumed: () =>
    counter({
      name: 'jetsaga_events_consumed_total',
      help: 'Messages handled and acknowledged, by consumer (durable name) and event type.',
      labelNames: ['consumer', 'event_type'] as const,
    }),
  failed: () =>
    counter({
      name: 'jetsaga_events_failed_total',
      help: 'Failed handlings by consumer, event type and reason: retry (redelivered later), poison, permanent, exhausted (dead-lettered).',
      labelNames: ['consumer', 'event_type', 'reason'] as const,
    }),
  redelivered: () =>
    counter({
      name: 'jetsaga_events_redelivered_total',
      help: 'Deliveries of a message that had been delivered before, by consumer and event type.',
      labelNames: ['consumer', 'event_type'] as const,
    }),
  handlerDuration: () =>
    histogram({
      name: 'jetsaga_event_handler_duration_seconds',
      help: 'Time to handle one message, decode to settlement, by consumer, event type and outcome; exemplars carry the trace id.',
      labelNames: ['consumer', 'event_type', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
    }),
};

export type PublishedRow = { subject: string; messageId: string; headers: Record<string, string>; payload: unknown; createdAt: Date };

/** Publishes one outbox row inside its PRODUCER span and counts it once JetStream acknowledged it. */
export async function publishObserved<T>(
  row: PublishedRow,
  publish: (body: string, headers: Record<string, string>) => Promise<T>,
): Promise<T> {
  const body = JSON.stringify(row.payload);
  const ack = await traceSend(
    { subject: row.subject, messageId: row.messageId, headers: row.headers, payload: row.payload, bodySize: Buffer.byteLength(body) },
    (headers) => publish(body, headers),
  );
  instruments.published().inc({ event_type: messageTypeOf(row.subject) });
  observe(instruments.relayLatency(), {}, Math.max(0, (Date.now() - row.createdAt.getTime()) / 1000));
  return ack;
}

type Settlement = 'ack' | 'retry' | 'poison' | 'permanent' | 'exhausted' | 'term' | 'none';

/**
 * The message as the processing code sees it, with its settlement recorded on the way to JetStream: the consumer's
 * code stays as it is, and the span and metrics learn whether it acked, retried or dead-lettered.
 */
function recording(msg: JsMsg, settled: (outcome: Settlement) => void): JsMsg {
  return Object.create(msg, {
    ack: { value: () => (settled('ack'), msg.ack()) },
    ackAck: { value: (opts?: Parameters<JsMsg['ackAck']>[0]) => (settled('ack'), msg.ackAck(opts)) },
    nak: { value: (millis?: number) => (settled('retry'), msg.nak(millis)) },
    term: {
      value: (reason?: string) => {
        const deadLettered = /^dead-lettered: (\w+)/.exec(reason ?? '')?.[1] as Settlement | undefined;
        settled(deadLettered ?? 'term');
        msg.term(reason);
      },
    },
  }) as JsMsg;
}

/** Handles one delivered message inside its CONSUMER span, and counts and times the outcome. */
export async function processObserved(
  consumer: string,
  msg: JsMsg,
  delivery: { subject: string; headers: Record<string, string>; streamSequence: number; deliveryCount: number },
  process: (msg: JsMsg) => Promise<void>,
  log?: Logger,
): Promise<void> {
  const started = performance.now();
  let outcome: Settlement = 'none';
  await traceProcess(
    {
      subject: delivery.subject,
      consumer,
      headers: delivery.headers,
      data: msg.data,
      streamSequence: delivery.streamSequence,
      deliveryCount: delivery.deliveryCount,
    },
    async ({ span, eventType }) => {
      try {
        await process(recording(msg, (settled) => (outcome = settled)));
      } finally {
        const labels = { consumer, event_type: eventType };
        if (delivery.deliveryCount > 1) instruments.redelivered().inc(labels);
        if (outcome === 'ack') instruments.consumed().inc(labels);
        else {
          instruments.failed().inc({ ...labels, reason: outcome });
          markFailed(span, outcome);
        }
        const seconds = (performance.now() - started) / 1000;
        observe(instruments.handlerDuration(), { ...labels, outcome }, seconds);
        // Inside the span: the line carries trace_id, span_id, correlation_id and causation_id.
        log?.debug({ consumer, subject: delivery.subject, eventType, outcome, ms: Math.round(seconds * 1000) }, 'message processed');
      }
    },
  );
}

type WatchedConsumer = { nc: NatsConnection; stream: string; durable: string };
const watchedConsumers = new Map<string, WatchedConsumer>();
const watchedOutboxes = new Map<string, Db>();
let watchLog: Logger | undefined;

const managers = new WeakMap<NatsConnection, Promise<JetStreamManager>>();
function managerOf(nc: NatsConnection): Promise<JetStreamManager> {
  let jsm = managers.get(nc);
  if (!jsm) {
    jsm = jetstreamManager(nc, { timeout: 2000 });
    managers.set(nc, jsm);
  }
  return jsm;
}

type ConsumerState = { stream: string; consumer: string; pending: number; ackPending: number; redelivered: number };
type JetStreamState = { consumers: ConsumerState[]; deadLetters: Map<string, number> };

async function readJetStreamState(): Promise<JetStreamState> {
  const consumers: ConsumerState[] = [];
  const deadLetters = new Map<string, number>();
  const connections = new Set([...watchedConsumers.values()].map((watched) => watched.nc));
  for (const nc of connections) {
    try {
      const info = await (await managerOf(nc)).streams.info(DLQ_STREAM, { subjects_filter: 'dlq.>' });
      for (const [subject, count] of Object.entries(info.state.subjects ?? {})) deadLetters.set(subject.slice('dlq.'.length), count);
    } catch (error) {
      watchLog?.warn({ err: error }, 'reading the dead-letter stream for metrics failed');
    }
  }
  for (const watched of watchedConsumers.values()) {
    try {
      const info = await (await managerOf(watched.nc)).consumers.info(watched.stream, watched.durable);
      consumers.push({
        stream: watched.stream,
        consumer: watched.durable,
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
      });
    } catch (error) {
      watchLog?.warn({ err: error, consumer: watched.durable }, 'reading consumer state for metrics failed');
    }
  }
  return { consumers, deadLetters };
}

/** One round of JetStream requests per scrape, shared by the gauges that report it. */
const jetStreamState = sharedRead(readJetStreamState);

/**
 * Reports, at each scrape, what JetStream holds for these durable consumers (pending, waiting for an ack,
 * redelivered) and how many of their messages sit in the dead-letter stream (`dlq.<durable>`).
 */
export function watchConsumers(nc: NatsConnection, consumers: ReadonlyArray<{ stream: string; durable: string }>, log?: Logger): void {
  watchLog ??= log;
  for (const { stream, durable } of consumers) watchedConsumers.set(`${stream}/${durable}`, { nc, stream, durable });
  const labelNames = ['stream', 'consumer'] as const;
  const fromState = (pick: (state: ConsumerState) => number) =>
    async function collect(this: { reset(): void; set(labels: { stream: string; consumer: string }, value: number): void }) {
      const state = await jetStreamState();
      this.reset();
      for (const entry of state.consumers) this.set({ stream: entry.stream, consumer: entry.consumer }, pick(entry));
    };
  gauge({
    name: 'jetsaga_consumer_pending_messages',
    help: 'Messages in the stream not yet delivered to the consumer.',
    labelNames,
    collect: fromState((state) => state.pending),
  });
  gauge({
    name: 'jetsaga_consumer_ack_pending_messages',
    help: 'Messages delivered to the consumer and not yet acknowledged.',
    labelNames,
    collect: fromState((state) => state.ackPending),
  });
  gauge({
    name: 'jetsaga_consumer_redelivered_messages',
    help: 'Messages delivered more than once and not yet acknowledged.',
    labelNames,
    collect: fromState((state) => state.redelivered),
  });
  gauge({
    name: 'jetsaga_dlq_messages',
    help: 'Messages in the dead-letter stream for a consumer (subject dlq.<consumer>).',
    labelNames: ['consumer'] as const,
    async collect() {
      const state = await jetStreamState();
      this.reset();
      // The relay dead-letters what JetStream refuses as `dlq.outbox-<schema>`.
      const names = [
        ...[...watchedConsumers.values()].map((watched) => watched.durable),
        ...[...watchedOutboxes.keys()].map((schema) => `outbox-${schema}`),
      ];
      for (const name of names) this.set({ consumer: name }, state.deadLetters.get(name) ?? 0);
    },
  });
}

type OutboxState = { outbox: string; backlog: number; oldestAge: number };
async function readOutboxes(): Promise<OutboxState[]> {
  const states: OutboxState[] = [];
  for (const [outbox, pool] of watchedOutboxes) {
    try {
      const { rows } = await pool.query<{ n: number; age: number }>(
        `SELECT count(*)::int AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age
         FROM ${outbox}.outbox`,
      );
      states.push({ outbox, backlog: rows[0]?.n ?? 0, oldestAge: rows[0]?.age ?? 0 });
    } catch (error) {
      watchLog?.warn({ err: error, outbox }, 'reading the outbox backlog for metrics failed');
    }
  }
  return states;
}

/** One query per outbox and scrape, shared by the gauges that report it. */
const outboxStates = sharedRead(readOutboxes);

/** Reports, at each scrape, the outbox rows committed but not yet acknowledged by JetStream, and the age of the oldest. */
export function watchOutbox(db: Db, schema: string, log?: Logger): void {
  watchLog ??= log;
  watchedOutboxes.set(schema, db);
  gauge({
    name: 'jetsaga_outbox_backlog_messages',
    help: 'Outbox rows committed and not yet acknowledged by JetStream (sent rows are deleted).',
    labelNames: ['outbox'] as const,
    async collect() {
      const states = await outboxStates();
      this.reset();
      for (const state of states) this.set({ outbox: state.outbox }, state.backlog);
    },
  });
  gauge({
    name: 'jetsaga_outbox_oldest_unpublished_age_seconds',
    help: 'Age of the oldest outbox row not yet published (0 when the outbox is drained).',
    labelNames: ['outbox'] as const,
    async collect() {
      const states = await outboxStates();
      this.reset();
      for (const state of states) this.set({ outbox: state.outbox }, state.oldestAge);
    },
  });
}
