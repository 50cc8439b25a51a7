import { EVENTS_STREAM } from '@jetsaga/events';
import { type Db, type Logger, type NatsConnection, traceBatch, traceHeadersOf } from '@jetsaga/platform';
import { type ConsumerMessages, DeliverPolicy, type JetStreamClient, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type pg from 'pg';
import type { PositionedEvent } from '../projections/current.js';
import { copyFrom, copyText } from './copy.js';
import { countMirrored, mirrorBatchSeconds } from './metrics.js';
import { type MirrorRecord, toRecord } from './record.js';

/** A record and the trace context its message carried, so the batch that stores it shows in the saga's trace. */
type TracedRecord = MirrorRecord & { traceHeaders: Record<string, string> };

/** What the mirror hands to the projections inside its transaction: the batch's range and its readable events. */
export type MirroredBatch = { first: number; last: number; events: readonly PositionedEvent[] };

export type MirrorOptions = {
  db: Db;
  nc: NatsConnection;
  log: Logger;
  /**
   * Most rows per transaction. A batch is written as soon as the stream has nothing more pending and no batch is being
   * written; while one is, the next one grows (up to this size), so batches are one message when idle and large
   * during a catch-up or under load.
   */
  batchSize?: number;
  /** A batch whose stream still reports pending messages waits at most this long for them. */
  flushDelayMs?: number;
  /**
   * Called inside each batch's transaction, after the rows and the checkpoint are written: the projections apply the
   * batch there (one pass over the payloads, parsed once by the mirror). True when some projection still has work the
   * batch could not do (behind, rebuilding, or busy elsewhere).
   */
  feed?: (tx: pg.PoolClient, batch: MirroredBatch) => Promise<boolean>;
  /** Told the new checkpoint after each committed batch, and whether projections have work left (see `feed`). */
  onAdvance?: (position: number, projectionsBehind: boolean) => void;
  /** Fault injection (tests): called inside each batch's transaction, rows inserted and checkpoint moved, before COMMIT. */
  beforeCommit?: (batch: { first: number; last: number }) => Promise<void>;
};

export type MirrorStatus = { position: number; streamPosition: number; lag: number; active: boolean };

const LOCK = 'jetsaga:event-store:mirror';

/**
 * Copies the EVENTS stream into Postgres. It reads with an ordered consumer from the checkpoint on, inserts in batches
 * keyed by stream sequence (a re-read message is a no-op: ON CONFLICT DO NOTHING) and moves the checkpoint in the same
 * transaction, so a crash anywhere resumes exactly where the last committed batch ended. The projections that are
 * caught up apply the batch in that transaction too (`feed`). One batch is written while the next is read and parsed,
 * so Postgres and this process work at the same time. One replica mirrors at a time (a session advisory lock); the
 * others wait to take over.
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
  /** The batch being written (resolved when none is). */
  private flushing: Promise<void> = Promise.resolve();
  private writing = false;
  private timer?: NodeJS.Timeout;
  /** Highest stream sequence read in this generation: a message delivered twice is dropped before it is batched. */
  private lastRead = 0;
  /** Bumped whenever reading restarts: batches read before a failure must never commit after it. */
  private generation = 0;

  constructor(private readonly options: MirrorOptions) {
    this.js = jetstream(options.nc);
    this.batchSize = options.batchSize ?? 5000;
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
    this.lastRead = from - 1;
    const consumer = await this.js.consumers.get(EVENTS_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    this.messages = await consumer.consume({ max_messages: this.batchSize * 2 });
    this.options.log.info({ from }, 'mirroring EVENTS');
    for await (const msg of this.messages) {
      if (msg.info.streamSequence <= this.lastRead) continue;
      this.lastRead = msg.info.streamSequence;
      this.buffer.push(recordOf(msg));
      if (this.buffer.length >= this.batchSize) {
        // Waiting here is the back-pressure: at most one batch is written while the next one is read.
        await this.flushing;
        this.flush();
      } else if (msg.info.pending === 0) {
        this.flush();
      } else if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, this.flushDelayMs);
      }
    }
  }

  /** Starts writing the buffer unless a batch is being written (that one starts the next when it is done). */
  private flush(): void {
    if (this.writing || this.buffer.length === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    const generation = this.generation;
    this.buffer = [];
    this.writing = true;
    this.flushing = this.insert(batch, generation).finally(() => {
      this.writing = false;
      if (generation === this.generation) this.flush();
    });
    // A failed batch restarts reading (insertBatch); the loop's own wait sees the failure, the timer's must not throw.
    this.flushing.catch(() => undefined);
  }

  /** Writes what is buffered and waits for every batch to be written. */
  private async flushNow(): Promise<void> {
    for (;;) {
      await this.flushing.catch(() => undefined);
      if (this.buffer.length === 0 || this.writing) {
        if (!this.writing) return;
        continue;
      }
      this.flush();
    }
  }

  private insert(batch: TracedRecord[], generation: number): Promise<void> {
    // A batch read before a failure must never commit after it.
    if (generation !== this.generation) return Promise.resolve();
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
    const first = batch[0]?.position ?? 0;
    const last = batch[batch.length - 1]?.position ?? 0;
    const timer = mirrorBatchSeconds.startTimer();
    const client = await this.options.db.connect();
    let projectionsBehind = false;
    try {
      await client.query('BEGIN');
      try {
        await copyFrom(client, `COPY events (${COLUMNS}) FROM STDIN`, copyInput(batch));
      } catch (error) {
        // Rows already there (another replica mirrored them while this one lost its lock): the batch again, skipping them.
        if ((error as { code?: string }).code !== '23505') throw error;
        await client.query('ROLLBACK');
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO events (${COLUMNS})
           SELECT ${COLUMNS} FROM json_populate_recordset(NULL::events, $1::json) ON CONFLICT (position) DO NOTHING`,
          [JSON.stringify(batch.map(rowOf))],
        );
      }
      await client.query('UPDATE mirror_checkpoint SET position = GREATEST(position, $1), updated_at = now()', [last]);
      if (this.options.feed) {
        const events: PositionedEvent[] = [];
        for (const record of batch) if (record.event) events.push({ ...record.event, position: record.position });
        projectionsBehind = await this.options.feed(client, { first, last, events });
      }
      await this.options.beforeCommit?.({ first, last });
      await client.query('COMMIT');
      timer();
      countMirrored(batch);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      this.options.log.warn({ err: error, first, last }, 'mirror batch failed; reading again from the checkpoint');
      // The ordered consumer has moved past this batch: drop what was read after it and restart from the checkpoint.
      this.generation += 1;
      this.buffer = [];
      this.messages?.stop();
      throw error;
    } finally {
      client.release();
    }
    this.options.onAdvance?.(last, projectionsBehind);
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

const COLUMNS =
  'position, subject, payload, stored_at, valid, id, type, schema_version, aggregate_type, aggregate_id, occurred_at, correlation_id, causation_id, actor, data, readable';

/** A batch in COPY's text format, one line per record in COLUMNS' order. */
function copyInput(batch: readonly MirrorRecord[]): Buffer {
  let text = '';
  for (const r of batch) {
    text += `${r.position}\t${copyText(r.subject)}\t${copyText(r.payload)}\t${r.storedAt}\t${r.valid ? 't' : 'f'}\t${copyText(r.id)}\t${copyText(r.type)}\t${copyText(r.schemaVersion)}\t${copyText(r.aggregateType)}\t${copyText(r.aggregateId)}\t${copyText(r.occurredAt)}\t${copyText(r.correlationId)}\t${copyText(r.causationId)}\t${copyText(r.actor)}\t${r.valid ? copyText(JSON.stringify(r.data)) : '\\N'}\t${r.event ? 't' : 'f'}\n`;
  }
  return Buffer.from(text, 'utf8');
}

/** A record as json_populate_recordset reads it (keys are the column names). */
function rowOf(r: MirrorRecord) {
  return {
    position: r.position,
    subject: r.subject,
    payload: r.payload,
    stored_at: r.storedAt,
    valid: r.valid,
    id: r.id,
    type: r.type,
    schema_version: r.schemaVersion,
    aggregate_type: r.aggregateType,
    aggregate_id: r.aggregateId,
    occurred_at: r.occurredAt,
    correlation_id: r.correlationId,
    causation_id: r.causationId,
    actor: r.actor,
    data: r.valid ? r.data : null,
    readable: r.event !== undefined,
  };
}

function recordOf(msg: JsMsg): TracedRecord {
  const storedAt = new Date(Math.floor(msg.info.timestampNanos / 1e6)).toISOString();
  return { ...toRecord(msg.info.streamSequence, msg.subject, msg.string(), storedAt), traceHeaders: traceHeadersOf(msg.headers) };
}
