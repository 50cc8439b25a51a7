import { EVENTS_STREAM } from '@jetsaga/events';
import { type Db, type Logger, type NatsConnection, traceBatch, traceHeadersOf } from '@jetsaga/platform';
import { type ConsumerMessages, DeliverPolicy, type JetStreamClient, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type pg from 'pg';
import { countMirrored, mirrorBatchSeconds } from './metrics.js';
import { type MirrorRecord, toRecord } from './record.js';

/** A record and the trace context its message carried, so the batch that stores it shows in the saga's trace. */
type TracedRecord = MirrorRecord & { traceHeaders: Record<string, string> };

export type MirrorOptions = {
  db: Db;
  nc: NatsConnection;
  log: Logger;
  /** Rows per insert; a batch is also flushed `flushDelayMs` after its first message. */
  batchSize?: number;
  flushDelayMs?: number;
  /** Told the new checkpoint after each committed batch (projections follow it). */
  onAdvance?: (position: number) => void;
  /** Fault injection (tests): called inside each batch's transaction, rows inserted and checkpoint moved, before COMMIT. */
  beforeCommit?: (batch: { first: number; last: number }) => Promise<void>;
};

export type MirrorStatus = { position: number; streamPosition: number; lag: number; active: boolean };

const LOCK = 'jetsaga:event-store:mirror';

/**
 * Copies the EVENTS stream into Postgres. It reads with an ordered consumer from the checkpoint on, inserts in batches
 * keyed by stream sequence (a re-read message is a no-op: ON CONFLICT DO NOTHING) and moves the checkpoint in the same
 * transaction, so a crash anywhere resumes exactly where the last committed batch ended. One replica mirrors at a time
 * (a session advisory lock); the others wait to take over.
 */
export class Mirror {
  private readonly js: JetStreamClient;
  private readonly batchSize: number;
  private readonly flushDelayMs: number;
  private running = false;
  private active = false;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private lockClient?: pg.PoolClient;
  private buffer: TracedRecord[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  /** Bumped whenever reading restarts: batches read before a failure must never commit after it. */
  private generation = 0;

  constructor(private readonly options: MirrorOptions) {
    this.js = jetstream(options.nc);
    this.batchSize = options.batchSize ?? 1000;
    this.flushDelayMs = options.flushDelayMs ?? 5;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.messages?.stop();
    await this.loop;
    await this.flushNow();
    await this.releaseLock();
  }

  /** Wipes the mirror and copies the stream again from sequence 1. */
  async reset(): Promise<void> {
    await this.stop();
    await this.options.db.query('BEGIN; TRUNCATE events; UPDATE mirror_checkpoint SET position = 0, updated_at = now(); COMMIT;');
    this.start();
  }

  async status(): Promise<MirrorStatus> {
    const { rows } = await this.options.db.query<{ position: number }>('SELECT position FROM mirror_checkpoint');
    const position = rows[0]?.position ?? 0;
    const jsm = await jetstreamManager(this.options.nc);
    const info = await jsm.streams.info(EVENTS_STREAM);
    const streamPosition = info.state.last_seq;
    return { position, streamPosition, lag: Math.max(0, streamPosition - position), active: this.active };
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (!(await this.acquireLock())) {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          continue;
        }
        await this.follow();
      } catch (error) {
        this.options.log.warn({ err: error }, 'mirror interrupted; resuming from its checkpoint');
        await this.releaseLock();
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async follow(): Promise<void> {
    const { rows } = await this.options.db.query<{ position: number }>('SELECT position FROM mirror_checkpoint');
    const from = (rows[0]?.position ?? 0) + 1;
    this.generation += 1;
    this.buffer = [];
    const consumer = await this.js.consumers.get(EVENTS_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    this.messages = await consumer.consume({ max_messages: this.batchSize * 2 });
    this.options.log.info({ from }, 'mirroring EVENTS');
    for await (const msg of this.messages) {
      this.buffer.push(recordOf(msg));
      if (this.buffer.length >= this.batchSize) {
        // Waiting here is the back-pressure: no more messages are read until the batch is in Postgres.
        await this.flushNow();
      } else if (!this.timer) {
        this.timer = setTimeout(() => void this.flushNow().catch(() => undefined), this.flushDelayMs);
      }
    }
  }

  /** Flushes are serialized, so batches commit in stream order. */
  private flushNow(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    const generation = this.generation;
    this.buffer = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.catch(() => undefined).then(() => (generation === this.generation ? this.insert(batch) : undefined));
    return this.flushing;
  }

  private insert(batch: TracedRecord[]): Promise<void> {
    const messages = batch.map((r) => ({
      subject: r.subject,
      headers: r.traceHeaders,
      bodySize: Buffer.byteLength(r.payload),
      messageId: r.id ?? undefined,
      eventType: r.type ?? undefined,
      correlationId: r.correlationId ?? undefined,
      streamSequence: r.position,
    }));
    return traceBatch('mirror EVENTS', 'event-store', messages, () => this.insertBatch(batch));
  }

  private async insertBatch(batch: MirrorRecord[]): Promise<void> {
    const last = batch[batch.length - 1]?.position ?? 0;
    const timer = mirrorBatchSeconds.startTimer();
    const client = await this.options.db.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO events (position, subject, payload, stored_at, valid, id, type, schema_version, aggregate_type, aggregate_id,
                             occurred_at, correlation_id, causation_id, actor, data)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::boolean[], $6::uuid[], $7::text[],
                              $8::integer[], $9::text[], $10::text[], $11::timestamptz[], $12::uuid[], $13::text[], $14::text[], $15::jsonb[])
         ON CONFLICT (position) DO NOTHING`,
        [
          batch.map((r) => r.position),
          batch.map((r) => r.subject),
          batch.map((r) => r.payload),
          batch.map((r) => r.storedAt),
          batch.map((r) => r.valid),
          batch.map((r) => r.id),
          batch.map((r) => r.type),
          batch.map((r) => r.schemaVersion),
          batch.map((r) => r.aggregateType),
          batch.map((r) => r.aggregateId),
          batch.map((r) => r.occurredAt),
          batch.map((r) => r.correlationId),
          batch.map((r) => r.causationId),
          batch.map((r) => r.actor),
          batch.map((r) => (r.valid ? JSON.stringify(r.data) : null)),
        ],
      );
      await client.query('UPDATE mirror_checkpoint SET position = GREATEST(position, $1), updated_at = now()', [last]);
      await this.options.beforeCommit?.({ first: batch[0]?.position ?? 0, last });
      await client.query('COMMIT');
      timer();
      countMirrored(batch);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      // The ordered consumer has moved past this batch: drop what was read after it and restart from the checkpoint.
      this.generation += 1;
      this.buffer = [];
      this.messages?.stop();
      throw error;
    } finally {
      client.release();
    }
    this.options.onAdvance?.(last);
  }

  private async acquireLock(): Promise<boolean> {
    if (this.lockClient) return true;
    const client = await this.options.db.connect();
    client.on('error', () => undefined);
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [LOCK]);
    if (!rows[0]?.locked) {
      client.release();
      return false;
    }
    this.lockClient = client;
    this.active = true;
    return true;
  }

  private async releaseLock(): Promise<void> {
    const client = this.lockClient;
    this.lockClient = undefined;
    this.active = false;
    if (!client) return;
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [LOCK]).catch(() => undefined);
    client.release(true);
  }
}

function recordOf(msg: JsMsg): TracedRecord {
  const storedAt = new Date(Math.floor(msg.info.timestampNanos / 1e6)).toISOString();
  return { ...toRecord(msg.info.streamSequence, msg.subject, msg.string(), storedAt), traceHeaders: traceHeadersOf(msg.headers) };
}
