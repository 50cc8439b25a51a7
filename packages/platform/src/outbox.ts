import { type DomainEvent, eventSubject } from '@jetsaga/events';
import { JetStreamApiError, type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/nats-core';
import type pg from 'pg';
import { afterCommit, type Db, poolOf, type Tx } from './db.js';
import { assertNoPlaintext, keyringOf } from './keyring.js';
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

/**
 * Rows are published by the process that committed them, right after the commit, and deleted by primary key once
 * JetStream acknowledged them; the relay only sweeps what a crash or a failed publish left behind. No trigger (its
 * NOTIFY took a database-wide lock at every commit that wrote the outbox) and no index on published_at (deleted rows
 * need none, and the table holds only what is in flight). ADR 0035.
 */
export const outboxPublishAfterCommitMigration = {
  id: 'platform/003_outbox_publish_after_commit',
  sql: `
    DROP TRIGGER IF EXISTS outbox_notify ON outbox;
    DROP FUNCTION IF EXISTS outbox_notify();
    DROP INDEX IF EXISTS outbox_unpublished;
    DELETE FROM outbox WHERE published_at IS NOT NULL;
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
export async function enqueue(tx: Tx, unsealed: readonly OutboxMessage[]): Promise<void> {
  if (unsealed.length === 0) return;
  // Personal data is sealed here, the one place every event is written from (ADR 0052), or not written at all.
  const keyring = keyringOf(poolOf(tx));
  const messages = keyring ? await keyring.seal(tx, unsealed) : unsealed;
  assertNoPlaintext(messages);
  const values: unknown[] = [];
  const rows = messages.map((message, index) => {
    // A message the pipeline built for a consumed message already carries that message's trace.
    const headers = message.headers?.traceparent ? message.headers : withTraceHeaders(message.headers);
    values.push(message.id, message.subject, JSON.stringify(headers), JSON.stringify(message.payload));
    const base = index * 4;
    return `($${base + 1}, $${base + 2}, $${base + 3}::jsonb, $${base + 4}::jsonb)`;
  });
  const { rows: written } = await tx.query<OutboxRow>(
    `INSERT INTO outbox (message_id, subject, headers, payload) VALUES ${rows.join(', ')}
     RETURNING position, message_id, subject, headers, payload, created_at`,
    values,
  );
  // Published by this process right after the commit; without a publisher (or a transaction of withTransaction) the
  // relay sweeps them up.
  afterCommit(tx, (db) => publishers.get(db)?.publish(written));
}

export async function enqueueEvents(tx: Tx, events: readonly DomainEvent[]): Promise<void> {
  await enqueue(tx, events.map(eventMessage));
}

/** An outbox row as written and as published. */
export type OutboxRow = {
  position: number;
  message_id: string;
  subject: string;
  headers: Record<string, string>;
  payload: unknown;
  created_at: Date;
};

/** The aggregate id token of `events.<type>.<id>.<event>` and `deadlines.<type>.<id>.<what>`: the unit of order. */
function orderKey(subject: string): string {
  return subject.split('.')[2] ?? subject;
}

/** Deletes sent rows by primary key, in one statement and without waiting for a flush to disk (see below). */
async function deleteSent(db: Pick<Db, 'query'>, positions: readonly number[]): Promise<void> {
  if (positions.length === 0) return;
  if (!positions.every(Number.isSafeInteger)) throw new Error('outbox positions must be integers');
  // A delete lost in a crash only republishes rows, which Nats-Msg-Id drops: this commit need not wait for the WAL
  // flush. One round trip: the positions are integers from the table itself.
  await db.query(`BEGIN; SET LOCAL synchronous_commit = off; DELETE FROM outbox WHERE position IN (${positions.join(',')}); COMMIT;`);
}

/** JetStream's answer while a message with the same Nats-Msg-Id is still being stored (JSStreamDuplicateMessageConflict). */
const DUPLICATE_IN_PROCESS = 10158;

/**
 * Whether JetStream refused a message for good: an API error that retrying cannot change. Not a refusal: a server-side
 * 5xx, or the same id still in process, which the cluster answers while an earlier publish of the row (the publisher
 * after commit, or a previous relay attempt before a leader change) is being replicated; the next attempt gets the
 * duplicate acknowledgement. Dead-lettering that one would report a false refusal, and lose the event if the earlier
 * publish then failed, since the row would be gone.
 */
export function refusedForGood(error: unknown): boolean {
  if (!(error instanceof JetStreamApiError)) return false;
  return error.code !== DUPLICATE_IN_PROCESS && error.status < 500;
}

function publishRow(js: JetStreamClient, row: OutboxRow) {
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
    return js.publish(row.subject, body, { msgID: row.message_id, headers: hdrs });
  });
}

const publishers = new WeakMap<Db, OutboxPublisher>();

export type OutboxPublisherOptions = {
  db: Db;
  nc: NatsConnection;
  log: Logger;
  /** Rows in flight beyond which new ones are left to the relay (a JetStream outage must not grow memory). */
  maxInFlight?: number;
  /** Fault injection (tests): true makes this row's direct publish fail, as a lost connection would. */
  failPublish?: (row: OutboxRow) => boolean;
};

/**
 * Publishes the outbox rows a transaction of this process wrote, right after its commit, and deletes them once
 * JetStream acknowledged them. Rows of one aggregate go out one after another in commit order; rows of different
 * aggregates are pipelined on the connection. A row whose publish fails is left to the relay (the crash sweeper), and
 * so is every later row of its aggregate until the failed one is gone from the table, so nothing overtakes it.
 */
export class OutboxPublisher {
  private readonly js: JetStreamClient;
  private readonly chains = new Map<string, Promise<void>>();
  /** Aggregates with a row left to the relay: the highest such position, by aggregate. */
  private readonly leftBehind = new Map<string, number>();
  private inFlight = 0;
  private readonly sent: number[] = [];
  private flushing?: Promise<void>;
  private checking?: ReturnType<typeof setTimeout>;
  private readonly idle = new Set<() => void>();
  private stopped = false;

  constructor(private readonly options: OutboxPublisherOptions) {
    this.js = jetstream(options.nc);
  }

  /** Makes enqueue in withTransaction on this pool hand its rows to this publisher after the commit. */
  attach(): this {
    publishers.set(this.options.db, this);
    return this;
  }

  publish(rows: readonly OutboxRow[]): void {
    for (const row of rows) {
      const key = orderKey(row.subject);
      if (this.stopped || this.leftBehind.has(key) || this.inFlight >= (this.options.maxInFlight ?? 10_000)) {
        this.leaveBehind(key, row.position);
        continue;
      }
      this.inFlight += 1;
      const previous = this.chains.get(key) ?? Promise.resolve();
      const task = previous.then(() => this.send(key, row));
      this.chains.set(key, task);
      void task.finally(() => {
        this.inFlight -= 1;
        if (this.chains.get(key) === task) this.chains.delete(key);
        if (this.inFlight === 0) for (const resolve of this.idle) resolve();
      });
    }
  }

  /** Aggregates that wait for the relay to send a row left behind before they publish directly again. */
  get waiting(): number {
    return this.leftBehind.size;
  }

  /** Rows handed over and not yet settled (published or left to the relay). */
  get pending(): number {
    return this.inFlight;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
    await this.flush();
    clearTimeout(this.checking);
    if (publishers.get(this.options.db) === this) publishers.delete(this.options.db);
  }

  private async send(key: string, row: OutboxRow): Promise<void> {
    // An earlier row of this aggregate failed while this one waited behind it.
    if (this.leftBehind.has(key)) return this.leaveBehind(key, row.position);
    try {
      if (this.options.failPublish?.(row)) throw new Error('injected publish failure');
      await publishRow(this.js, row);
    } catch (error) {
      this.options.log.warn(
        { err: error, subject: row.subject, messageId: row.message_id },
        'publish after commit failed; left to the relay',
      );
      return this.leaveBehind(key, row.position);
    }
    this.sent.push(row.position);
    this.flushing ??= this.flush();
  }

  /** Deletes what was sent, in one statement per burst of acks. */
  private async flush(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.sent.length > 0) {
      const positions = this.sent.splice(0, this.sent.length);
      try {
        await deleteSent(this.options.db, positions);
      } catch (error) {
        // Left in the table: the relay publishes them again (dropped by id) and deletes them.
        this.options.log.warn({ err: error, rows: positions.length }, 'deleting sent outbox rows failed; the relay will');
      }
    }
    this.flushing = undefined;
  }

  private leaveBehind(key: string, position: number): void {
    this.leftBehind.set(key, Math.max(position, this.leftBehind.get(key) ?? 0));
    this.checking ??= setTimeout(() => void this.checkLeftBehind(), 250).unref();
  }

  /** An aggregate publishes directly again once the relay has sent (and deleted) its rows left behind. */
  private async checkLeftBehind(): Promise<void> {
    const waiting = [...this.leftBehind];
    try {
      const { rows } = await this.options.db.query<{ position: number }>('SELECT position FROM outbox WHERE position = ANY($1::bigint[])', [
        waiting.map(([, position]) => position),
      ]);
      const still = new Set(rows.map((row) => row.position));
      for (const [key, position] of waiting) {
        if (!still.has(position) && this.leftBehind.get(key) === position) this.leftBehind.delete(key);
      }
    } catch (error) {
      this.options.log.warn({ err: error }, 'checking outbox rows left to the relay failed');
    }
    this.checking = undefined;
    if (this.leftBehind.size > 0 && !this.stopped) this.checking = setTimeout(() => void this.checkLeftBehind(), 250).unref();
  }
}

export type OutboxRelayOptions = {
  db: Db;
  nc: NatsConnection;
  schema: string;
  log: Logger;
  batchSize?: number;
  /** How often the relay looks for rows left behind. */
  pollIntervalMs?: number;
  /**
   * How old a row must be before the relay takes it: younger ones are being published by the process that committed
   * them (default 1 s). Publishing one twice is harmless (Nats-Msg-Id), the grace only saves the work.
   */
  graceMs?: number;
  /**
   * Fault injection (tests): called at each moment a crash must not lose or duplicate an event, with the batch's
   * positions: `read` (rows read, nothing published) and `published` (JetStream acknowledged, not deleted).
   */
  faultPoint?: (point: RelayFaultPoint, positions: number[]) => Promise<void>;
};

export type RelayFaultPoint = 'read' | 'published';

/**
 * The crash sweeper: publishes, in commit order, the outbox rows that their process did not (it crashed after the
 * commit, or its publish failed), and deletes them only after JetStream's ack. A crash between ack and delete
 * republishes on restart, and `Nats-Msg-Id` makes the stream drop the duplicate. One relay per schema is active at a
 * time (advisory lock), which keeps the per-aggregate order of what it sends.
 */
export class OutboxRelay {
  private readonly js: JetStreamClient;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly graceMs: number;
  private running = false;
  private loop?: Promise<void>;
  /** The connection that holds the relay lock (session-level, see relayConnection). */
  private client?: pg.PoolClient;
  private locked = false;
  private wake?: () => void;

  constructor(private readonly options: OutboxRelayOptions) {
    this.js = jetstream(options.nc);
    this.batchSize = options.batchSize ?? 256;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.graceMs = options.graceMs ?? 1000;
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
    await this.dropConnection();
  }

  /** Rows committed but not yet acknowledged by JetStream (sent rows are deleted). */
  async backlog(): Promise<number> {
    const { rows } = await this.options.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
    return rows[0]?.n ?? 0;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const published = await this.publishBatch();
        failures = 0;
        if (published >= this.batchSize) continue;
        await this.idle(this.pollIntervalMs);
      } catch (error) {
        failures += 1;
        const delay = Math.min(100 * 2 ** failures, 5000);
        this.options.log.warn({ err: error, retryInMs: delay }, 'outbox relay failed; retrying');
        await this.idle(delay);
      }
    }
  }

  /** Publishes one batch of rows older than the grace; returns how many (0 when none, or another relay holds the lock). */
  async publishBatch(): Promise<number> {
    const client = await this.relayConnection();
    if (!client) return 0;
    const { rows } = await client.query<OutboxRow>(
      `SELECT position, message_id, subject, headers, payload, created_at FROM outbox
       WHERE created_at < now() - make_interval(secs => $2) ORDER BY position LIMIT $1`,
      [this.batchSize, this.graceMs / 1000],
    );
    if (rows.length === 0) return 0;
    const positions = rows.map((row) => row.position);
    await this.options.faultPoint?.('read', positions);
    // Published back to back on one connection, so the server stores them in this order; acks are awaited together.
    const results = await Promise.allSettled(rows.map((row) => publishRow(this.js, row)));
    const failures = results.flatMap((result, index) =>
      result.status === 'rejected' ? [{ row: rows[index] as OutboxRow, error: result.reason }] : [],
    );
    // A connection problem, a timeout, or the same id still in process: nothing is deleted, the whole batch is tried
    // again (duplicates are dropped by id).
    const transient = failures.find((failure) => !refusedForGood(failure.error));
    if (transient) throw transient.error;
    // The server refused a message outright: retrying cannot help, and it must not block the rows behind it.
    for (const failure of failures) await this.deadLetter(failure.row, failure.error as Error);
    await this.options.faultPoint?.('published', positions);
    await deleteSent(client, positions);
    return rows.length;
  }

  /**
   * The relay's own connection, holding the schema's relay lock for as long as it lives: one relay per schema at a
   * time (docs/adr/0030-outbox-relay-session-lock.md). A relay that dies releases the lock with its connection, and
   * another replica's relay takes over at its next poll.
   */
  private async relayConnection(): Promise<pg.PoolClient | undefined> {
    if (!this.client) {
      const client = await this.options.db.connect();
      client.on('error', () => {
        if (this.client !== client) return;
        // Closing the connection releases the relay lock it held.
        this.client = undefined;
        this.locked = false;
        client.release(true);
      });
      this.client = client;
    }
    if (this.locked) return this.client;
    const { rows } = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.lockKey]);
    this.locked = Boolean(rows[0]?.locked);
    return this.locked ? this.client : undefined;
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

  /** Waits for the poll interval; ends early on stop. */
  private idle(ms: number): Promise<void> {
    // stop() may have come while a batch was read: its wake-up found no wait to end, so none may begin now.
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async dropConnection(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (this.locked) {
      this.locked = false;
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
}
