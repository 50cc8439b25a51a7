import { type DomainEvent, eventSubject } from '@jetsaga/events';
import { JetStreamApiError, type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/nats-core';
import type pg from 'pg';
import type { Db, Tx } from './db.js';
import { buildDeadLetter, publishDeadLetter } from './dead-letter.js';
import type { Logger } from './log.js';
import { publishObserved } from './messaging-metrics.js';
import { withTraceHeaders } from './telemetry.js';

export const outboxMigration = {
  id: 'platform/001_outbox',
  sql: `
    CREATE TABLE outbox (
      position bigserial PRIMARY KEY,
      message_id uuid NOT NULL UNIQUE,
      subject text NOT NULL,
      headers jsonb NOT NULL DEFAULT '{}'::jsonb,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz
    );
    CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_at IS NULL;
    CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
      RETURN NULL;
    END $$;
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
  `,
};

/** A message waiting in the outbox: a domain event, or a timer for the DEADLINES stream. */
export type OutboxMessage = {
  /** Becomes `Nats-Msg-Id`, so a message relayed twice is stored once. */
  id: string;
  subject: string;
  payload: unknown;
  headers?: Record<string, string>;
};

export function eventMessage(event: DomainEvent): OutboxMessage {
  return { id: event.id, subject: eventSubject(event.aggregateType, event.aggregateId, event.type), payload: event };
}

/**
 * Writes messages in the caller's transaction: they exist exactly when the state change that caused them commits.
 * The current trace context is stored with each message, so the relay's send, which happens later and elsewhere,
 * continues the trace of the request or handler that caused it.
 */
export async function enqueue(tx: Tx, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const values: unknown[] = [];
  const rows = messages.map((message, index) => {
    // A message the pipeline built for a consumed message already carries that message's trace.
    const headers = message.headers?.traceparent ? message.headers : withTraceHeaders(message.headers);
    values.push(message.id, message.subject, JSON.stringify(headers), JSON.stringify(message.payload));
    const base = index * 4;
    return `($${base + 1}, $${base + 2}, $${base + 3}::jsonb, $${base + 4}::jsonb)`;
  });
  await tx.query(`INSERT INTO outbox (message_id, subject, headers, payload) VALUES ${rows.join(', ')}`, values);
}

export async function enqueueEvents(tx: Tx, events: readonly DomainEvent[]): Promise<void> {
  await enqueue(tx, events.map(eventMessage));
}

type OutboxRow = {
  position: number;
  message_id: string;
  subject: string;
  headers: Record<string, string>;
  payload: unknown;
  created_at: Date;
};

export type OutboxRelayOptions = {
  db: Db;
  nc: NatsConnection;
  schema: string;
  log: Logger;
  batchSize?: number;
  /** Fallback poll when no notification arrives (a lost LISTEN connection, say). */
  pollIntervalMs?: number;
  /**
   * Fault injection (tests): called at each moment a crash must not lose or duplicate an event, with the batch's
   * positions: `read` (rows read, nothing published) and `published` (JetStream acknowledged, not marked sent).
   */
  faultPoint?: (point: RelayFaultPoint, positions: number[]) => Promise<void>;
};

export type RelayFaultPoint = 'read' | 'published';

/**
 * Relays committed outbox rows to JetStream in commit order, and marks them sent only after JetStream's ack.
 * A crash between ack and mark republishes on restart, and `Nats-Msg-Id` makes the stream drop the duplicate;
 * a crash before publish publishes on restart. One relay per schema is active at a time (advisory lock), which keeps
 * the per-aggregate order of events.
 */
export class OutboxRelay {
  private readonly js: JetStreamClient;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private running = false;
  private loop?: Promise<void>;
  private listener?: pg.PoolClient;
  /** The connection that holds the relay lock (session-level, see relayConnection). */
  private lockedBy?: pg.PoolClient;
  private wake?: () => void;
  /** Set by each notification; see run(). */
  private notified = false;
  private lastCleanup = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.js = jetstream(options.nc);
    this.batchSize = options.batchSize ?? 256;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  private get lockKey(): string {
    return `jetsaga:outbox:${this.options.schema}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.dropListener();
  }

  /** Rows committed but not yet acknowledged by JetStream. */
  async backlog(): Promise<number> {
    const { rows } = await this.options.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
    return rows[0]?.n ?? 0;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        await this.ensureListener();
        // A notification that arrives while a batch is read or published is remembered, and the relay reads again
        // instead of sleeping until the next poll: rows committed just after the read would otherwise wait a second.
        this.notified = false;
        const published = await this.publishBatch();
        failures = 0;
        await this.cleanup();
        if (published > 0 || this.notified) continue;
        await this.idle(this.pollIntervalMs);
      } catch (error) {
        failures += 1;
        const delay = Math.min(100 * 2 ** failures, 5000);
        this.options.log.warn({ err: error, retryInMs: delay }, 'outbox relay failed; retrying');
        await this.idle(delay, false);
      }
    }
  }

  /** Publishes one batch; returns how many rows it relayed (0 when idle or another relay holds the lock). */
  async publishBatch(): Promise<number> {
    const client = await this.relayConnection();
    if (!client) return 0;
    const { rows } = await client.query<OutboxRow>(
      'SELECT position, message_id, subject, headers, payload, created_at FROM outbox WHERE published_at IS NULL ORDER BY position LIMIT $1',
      [this.batchSize],
    );
    if (rows.length === 0) return 0;
    const positions = rows.map((row) => row.position);
    await this.options.faultPoint?.('read', positions);
    // Published back to back on one connection, so the server stores them in this order; acks are awaited together.
    const results = await Promise.allSettled(rows.map((row) => this.publish(row)));
    const failures = results.flatMap((result, index) =>
      result.status === 'rejected' ? [{ row: rows[index] as OutboxRow, error: result.reason }] : [],
    );
    // A connection problem or a timeout: nothing is marked, the whole batch is tried again (duplicates are dropped by id).
    const transient = failures.find((failure) => !(failure.error instanceof JetStreamApiError));
    if (transient) throw transient.error;
    // The server refused a message outright: retrying cannot help, and it must not block the rows behind it.
    for (const failure of failures) await this.deadLetter(failure.row, failure.error as Error);
    await this.options.faultPoint?.('published', positions);
    await client.query('UPDATE outbox SET published_at = now() WHERE position = ANY($1::bigint[])', [positions]);
    return rows.length;
  }

  /**
   * The relay's own connection (the one that listens), holding the schema's relay lock for as long as it lives: one
   * relay per schema at a time, and a batch is a plain read and a plain update instead of a five-statement transaction
   * (Postgres round trips were the services' largest CPU cost: docs/adr/0030-outbox-relay-session-lock.md). A relay
   * that dies releases the lock with its connection, and another replica's relay takes over at its next poll.
   */
  private async relayConnection(): Promise<pg.PoolClient | undefined> {
    await this.ensureListener();
    const client = this.listener;
    if (!client) return undefined;
    if (this.lockedBy === client) return client;
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.lockKey]);
    if (!rows[0]?.locked) return undefined;
    this.lockedBy = client;
    return client;
  }

  private async deadLetter(row: OutboxRow, error: Error): Promise<void> {
    const { schema, log } = this.options;
    const letter = buildDeadLetter({
      consumer: `outbox-${schema}`,
      reason: 'rejected',
      error,
      attempts: 1,
      failedAt: new Date(),
      messageId: `outbox:${row.message_id}`,
      original: {
        subject: row.subject,
        headers: { ...row.headers, 'Nats-Msg-Id': row.message_id },
        payload: new TextEncoder().encode(JSON.stringify(row.payload)),
      },
    });
    await publishDeadLetter(this.js, letter);
    log.error({ err: error, subject: row.subject, messageId: row.message_id }, 'JetStream refused an outbox message; dead-lettered');
  }

  private publish(row: OutboxRow) {
    const message = {
      subject: row.subject,
      messageId: row.message_id,
      headers: row.headers,
      payload: row.payload,
      createdAt: row.created_at,
    };
    return publishObserved(message, (body, headers) => {
      const hdrs = natsHeaders();
      for (const [key, value] of Object.entries(headers)) hdrs.set(key, value);
      return this.js.publish(row.subject, body, { msgID: row.message_id, headers: hdrs });
    });
  }

  /** Waits for new rows (a notification) or the poll interval; a back-off wait only ends early on stop. */
  private idle(ms: number, wakeOnNotify = true): Promise<void> {
    // stop() may have come while a batch was read: its wake-up found no wait to end, so none may begin now.
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const running = () => this.running;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = wakeOnNotify ? done : () => (running() ? undefined : done());
    });
  }

  private async ensureListener(): Promise<void> {
    if (this.listener) return;
    const client = await this.options.db.connect();
    client.on('notification', () => {
      this.notified = true;
      this.wake?.();
    });
    client.on('error', () => {
      // Only the current listener is released here; a dropped one was released by dropListener.
      if (this.listener !== client) return;
      this.listener = undefined;
      // Closing the connection releases the relay lock it held.
      if (this.lockedBy === client) this.lockedBy = undefined;
      client.release(true);
    });
    await client.query(`LISTEN ${this.options.schema}_outbox`);
    this.listener = client;
  }

  private async dropListener(): Promise<void> {
    const client = this.listener;
    this.listener = undefined;
    if (!client) return;
    await client.query(`UNLISTEN ${this.options.schema}_outbox`).catch(() => undefined);
    if (this.lockedBy === client) {
      this.lockedBy = undefined;
      // A pooled connection must not keep the lock: unlock, or close the connection if that fails.
      const unlocked = await client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.lockKey]).then(
        () => true,
        () => false,
      );
      client.release(!unlocked);
      return;
    }
    client.release();
  }

  private async cleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCleanup < 60_000) return;
    this.lastCleanup = now;
    // Sent rows are kept an hour for debugging; JetStream is the record from then on.
    await this.options.db.query("DELETE FROM outbox WHERE published_at < now() - interval '1 hour'");
  }
}
