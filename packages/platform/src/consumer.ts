import { DLQ_STREAM, dlqRedriveSubject, InvalidEventError } from '@jetsaga/events';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/nats-core';
import { type Context, context } from '@opentelemetry/api';
import { buildDeadLetter, type DeadLetterReason, publishDeadLetter } from './dead-letter.js';
import { PermanentError, RetryLaterError } from './errors.js';
import type { Logger } from './log.js';
import { processObserved, watchConsumers } from './messaging-metrics.js';
import { histogram, observe } from './metrics.js';
import { isNotFound } from './nats.js';

/** Default redelivery schedule after a transient failure: 1s, 5s, 30s, 60s, i.e. five attempts in all. */
export const DEFAULT_BACKOFF_MS = [1000, 5000, 30_000, 60_000] as const;

/** The delay before the next delivery once attempt `attempt` (1-based) failed transiently; the last step repeats. */
export function retryDelayMs(backoff: readonly number[], attempt: number): number {
  return backoff[Math.min(attempt - 1, backoff.length - 1)] ?? 1000;
}

export type ConsumerSpec = {
  stream: string;
  durable: string;
  filterSubjects: string[];
  /** Attempts before a message is dead-lettered (default: backoff length + 1). */
  maxAttempts?: number;
  backoffMs?: readonly number[];
  ackWaitMs?: number;
  maxAckPending?: number;
};

/** The next delay of each scheduled retry, by consumer and by the attempt that failed. */
const retryDelays = () =>
  histogram({
    name: 'jetsaga_consumer_retry_delay_seconds',
    help: 'Delay before the next delivery of a message whose handler failed transiently.',
    labelNames: ['consumer', 'attempt'],
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 120],
  });

function attemptsOf(spec: ConsumerSpec): number {
  return spec.maxAttempts ?? (spec.backoffMs ?? DEFAULT_BACKOFF_MS).length + 1;
}

/** The consumer on DLQ that receives this consumer's redriven dead letters, with the same retry budget. */
export function redriveSpec(spec: ConsumerSpec): ConsumerSpec {
  return { ...spec, stream: DLQ_STREAM, durable: `${spec.durable}-redrive`, filterSubjects: [dlqRedriveSubject(spec.durable)] };
}

export function consumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> {
  return {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subjects: spec.filterSubjects,
    ack_wait: nanos(spec.ackWaitMs ?? 30_000),
    // One delivery more than the handler's budget: a process killed during its last attempt still gets the
    // message once more, and that delivery dead-letters it instead of the message escaping silently.
    max_deliver: attemptsOf(spec) + 1,
    max_ack_pending: spec.maxAckPending ?? 1000,
  };
}

/**
 * The metadata key the operator puts on every consumer it reconciles from k8s/topology (services/operator's
 * MANAGED_BY_METADATA; a unit test keeps the two equal).
 */
export const MANAGED_BY_METADATA = 'jetsaga.dev/managed-by';

/** True when the operator (in a cluster, or `npm start` through its reconcile steps) owns this consumer's config. */
export function operatorOwned(config: Partial<ConsumerConfig>): boolean {
  return Boolean(config.metadata?.[MANAGED_BY_METADATA]);
}

export type ConfigDrift = { field: string; want: unknown; have: unknown };

/**
 * Where a consumer's JetStream config differs from what its spec asks for, field by field (filters, ack wait, max
 * deliver, backoff, limits, policies). Pure: the topology unit test runs it against k8s/topology, and a service runs
 * it against the consumer the operator made for it.
 */
export function consumerDrift(spec: ConsumerSpec, config: Partial<ConsumerConfig>): ConfigDrift[] {
  const want: Record<string, unknown> = { ...consumerConfig(spec), backoff: [] };
  const have: Record<string, unknown> = {
    ...config,
    filter_subjects: config.filter_subjects?.length ? config.filter_subjects : config.filter_subject ? [config.filter_subject] : [],
    backoff: config.backoff ?? [],
  };
  return Object.entries(want).flatMap(([field, value]) =>
    JSON.stringify(have[field]) === JSON.stringify(value) ? [] : [{ field, want: value, have: have[field] }],
  );
}

/**
 * Creates the durable consumer when it is missing, or brings a consumer of its own to its spec. A consumer the
 * operator owns is only bound to, never rewritten: the operator and the service would otherwise take turns changing
 * it (the service's config carries no description, metadata or backoff). Idempotent.
 */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<ConsumerInfo> {
  const config = consumerConfig(spec);
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.info(spec.stream, spec.durable);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    return await jsm.consumers.add(spec.stream, config);
  }
  if (operatorOwned(info.config)) return info;
  return await jsm.consumers.update(spec.stream, spec.durable, config);
}

/**
 * A pull request sent to a replicated consumer before it has elected a leader is dropped without an answer, and the
 * client only notices after two missed heartbeats. On a freshly installed cluster that stalled the first saga past its
 * deadline, so a consumer starts pulling once it has a leader (bounded wait: pulls recover on their own after it).
 */
async function waitForLeader(jsm: JetStreamManager, ensured: ConsumerInfo, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let info = ensured;
  while (info.cluster && !info.cluster.leader && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    info = await jsm.consumers.info(info.stream_name, info.name);
  }
}

/**
 * Each pull lives 5 s (heartbeats every 2.5 s) instead of the client's 30 s: a pull lost to a leader change or a
 * server restart is noticed after two missed heartbeats, so 5 s instead of the saga deadline's 30 s.
 */
const PULL_EXPIRES_MS = 5_000;

export type Delivery = {
  subject: string;
  streamSequence: number;
  deliveryCount: number;
  headers: Record<string, string>;
};

/** One message of a batch, decoded, with its delivery and the trace context of its CONSUMER span. */
export type BatchItem<T> = { message: T; delivery: Delivery; trace: Context };

/**
 * What a batch handler says about the messages it could not apply while it committed the others: the index of each,
 * with its error (settled as a thrown error of that message alone would be). A throw instead fails the whole batch.
 */
export type BatchFailures = ReadonlyMap<number, unknown>;

export type ConsumerOptions<T> = {
  nc: NatsConnection;
  spec: ConsumerSpec;
  log: Logger;
  /** Turns bytes into a message; a throw marks the message as poison (dead-lettered at once). */
  decode: (data: Uint8Array, delivery: Delivery) => T;
  /** Handles one message; used when there is no `handleBatch` (messages then run one after another, in order). */
  handle?: (message: T, delivery: Delivery) => Promise<void>;
  /**
   * Handles a batch of messages in stream order, in one transaction: acknowledged once it resolves. A batch that fails
   * is retried one message at a time, so a failing message costs the others one retry and nothing more.
   */
  handleBatch?: (items: readonly BatchItem<T>[]) => Promise<BatchFailures | void>;
  /** The most messages in one batch: a batch is what is already buffered, never waited for (default 256). */
  maxBatch?: number;
  /** Fault injection (tests): true makes this attempt fail as a transient error would. */
  injectFault?: () => boolean;
  /**
   * The redelivery delay asked of the server for a retry the schedule puts `scheduledMs` away (default: exactly that).
   * The server keeps the time, so this is where a test compresses it to run the whole default schedule.
   */
  redeliveryDelay?: (scheduledMs: number) => number;
  /** Creates the consumer (and its redrive consumer) when missing; only for a connection that may (tests as the admin). */
  createMissing?: boolean;
};

/** The aggregate id token of `events.<type>.<id>.<event>` and `deadlines.<type>.<id>.fired`. */
export function aggregateKey(delivery: Delivery): string {
  return delivery.subject.split('.')[2] ?? delivery.subject;
}

function headerRecord(msg: JsMsg): Record<string, string> {
  const record: Record<string, string> = {};
  if (!msg.headers) return record;
  for (const [key, values] of msg.headers) record[key] = values[0] ?? '';
  return record;
}

/** A delivered message on its way through a batch: settled through `msg`, which records the outcome on its span. */
type Entry = { msg: JsMsg; delivery: Delivery; trace: Context; settled: () => void };

/**
 * A durable pull consumer with explicit acks, handling what has arrived in batches: one batch at a time per consumer
 * (its redriven dead letters included), in stream order, so the messages of one aggregate are never handled
 * concurrently or out of order. A batch is whatever is buffered when the previous one is done: one message when idle,
 * up to `maxBatch` under load. Failures are never silent: a transient error is redelivered on the backoff schedule, a
 * permanent error or a poison message goes to the DLQ stream at once, and a message that used all its attempts goes
 * there too, with its subject, headers, payload and last error.
 */
export class EventConsumer<T> {
  private readonly js: JetStreamClient;
  private messages?: ConsumerMessages;
  private redriven?: ConsumerMessages;
  private readers: Promise<void>[] = [];
  private worker?: Promise<void>;
  private readonly queue: JsMsg[] = [];
  private wake?: () => void;
  private waitingForSpace: Array<() => void> = [];
  private reading = 0;
  private readonly backoff: readonly number[];
  private readonly maxAttempts: number;
  private readonly maxBatch: number;

  constructor(private readonly options: ConsumerOptions<T>) {
    if (!options.handle && !options.handleBatch) throw new Error(`consumer ${options.spec.durable} has neither handle nor handleBatch`);
    this.js = jetstream(options.nc);
    this.backoff = options.spec.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.maxAttempts = attemptsOf(options.spec);
    this.maxBatch = options.maxBatch ?? 256;
  }

  async start(): Promise<void> {
    const { nc, spec } = this.options;
    const jsm = await jetstreamManager(nc);
    const ensured = await this.bind(jsm, spec);
    const drift = operatorOwned(ensured.config) ? consumerDrift(spec, ensured.config) : [];
    if (drift.length > 0) {
      // Left as the operator made it (k8s/topology is the source); said loudly, since retries and the DLQ depend on it.
      this.options.log.warn({ consumer: spec.durable, drift }, 'consumer differs from k8s/topology; using it as the operator made it');
    }
    await waitForLeader(jsm, ensured);
    const consumer = await this.js.consumers.get(spec.stream, spec.durable);
    this.messages = await consumer.consume({ max_messages: this.maxBatch, expires: PULL_EXPIRES_MS });
    this.worker = this.work();
    this.readers.push(this.read(this.messages));
    // Dead letters put back by the redrive API come to this consumer alone, through its own consumer on DLQ.
    const redrive = redriveSpec(spec);
    await waitForLeader(jsm, await this.bind(jsm, redrive));
    const redriveConsumer = await this.js.consumers.get(redrive.stream, redrive.durable);
    this.redriven = await redriveConsumer.consume({ max_messages: 16, expires: PULL_EXPIRES_MS });
    this.readers.push(this.read(this.redriven));
    watchConsumers(nc, [spec], this.options.log);
  }

  /**
   * The consumer as the topology step or the operator made it: a service's NATS user may not create one, so a
   * missing consumer is waited for (said once, then every 30 s), never created. Tests that own their NATS
   * (`createMissing`, as the admin) make it themselves.
   */
  private async bind(jsm: JetStreamManager, spec: ConsumerSpec): Promise<ConsumerInfo> {
    if (this.options.createMissing) return ensureConsumer(jsm, spec);
    let said = 0;
    for (;;) {
      try {
        return await jsm.consumers.info(spec.stream, spec.durable);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        if (Date.now() - said > 30_000) {
          said = Date.now();
          this.options.log.warn(
            { consumer: spec.durable, stream: spec.stream },
            'consumer does not exist yet; waiting for the topology step (npm start, the test set-up) or the operator to create it (k8s/topology)',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async stop(): Promise<void> {
    this.messages?.stop();
    this.redriven?.stop();
    this.makeSpace();
    await Promise.all(this.readers);
    this.wake?.();
    await this.worker;
  }

  /** Moves delivered messages to the batch queue; holds back while a full batch is waiting. */
  private async read(messages: ConsumerMessages): Promise<void> {
    this.reading += 1;
    try {
      for await (const msg of messages) {
        this.queue.push(msg);
        this.wake?.();
        if (this.queue.length >= this.maxBatch) await new Promise<void>((resolve) => this.waitingForSpace.push(resolve));
      }
    } finally {
      this.reading -= 1;
      this.wake?.();
    }
  }

  private makeSpace(): void {
    const waiting = this.waitingForSpace;
    this.waitingForSpace = [];
    for (const resume of waiting) resume();
  }

  /** Takes what is queued, up to a batch, handles it, and starts again; ends once the readers ended and all is handled. */
  private async work(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        if (this.reading === 0 && this.readers.length > 0) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const batch = this.queue.splice(0, this.maxBatch);
      this.makeSpace();
      try {
        await this.processBatch(batch);
      } catch (error) {
        // Settlement itself failed (a closed connection): the messages are redelivered after their ack wait.
        this.options.log.error({ err: error, consumer: this.options.spec.durable }, 'batch settlement failed');
      }
    }
  }

  /**
   * Each message keeps its own CONSUMER span and metrics (processObserved) for as long as its batch runs; the spans
   * end as their messages are settled.
   */
  private async processBatch(batch: readonly JsMsg[]): Promise<void> {
    const entries: Entry[] = [];
    const observed = batch.map((msg) => {
      const delivery: Delivery = {
        subject: msg.subject,
        streamSequence: msg.info.streamSequence,
        deliveryCount: msg.info.deliveryCount,
        headers: headerRecord(msg),
      };
      return processObserved(
        this.options.spec.durable,
        msg,
        delivery,
        (recorded) =>
          new Promise<void>((settled) => {
            entries.push({ msg: recorded, delivery, trace: context.active(), settled });
          }),
        this.options.log,
      );
    });
    // processObserved enters each span synchronously; the order of entries is the order of the batch.
    const ready: Array<BatchItem<T> & { entry: Entry }> = [];
    for (const entry of entries) {
      let message: T;
      try {
        message = this.options.decode(entry.msg.data, entry.delivery);
      } catch (error) {
        await this.settleFailure(entry.msg, entry.delivery, 'poison', error).finally(entry.settled);
        continue;
      }
      if (this.options.injectFault?.()) {
        await this.settleError(entry, new Error('injected fault')).finally(entry.settled);
        continue;
      }
      ready.push({ message, delivery: entry.delivery, trace: entry.trace, entry });
    }
    await this.handleAll(ready);
    await Promise.all(observed);
  }

  private async handleAll(items: ReadonlyArray<BatchItem<T> & { entry: Entry }>): Promise<void> {
    if (items.length === 0) return;
    const { handle, handleBatch } = this.options;
    if (!handleBatch) {
      for (const item of items)
        await this.settleOne(item.entry, () => context.with(item.trace, () => handle!(item.message, item.delivery)));
      return;
    }
    let failures: BatchFailures | void;
    try {
      failures = await (items.length === 1 ? context.with(items[0]!.trace, () => handleBatch(items)) : handleBatch(items));
    } catch (error) {
      if (items.length === 1) {
        await this.settleError(items[0]!.entry, error).finally(items[0]!.entry.settled);
        return;
      }
      // One message spoiled the batch, or the database failed it: each message gets one try of its own.
      this.options.log.warn(
        { err: error, consumer: this.options.spec.durable, size: items.length },
        'batch failed; handling its messages one by one',
      );
      for (const item of items) await this.handleAll([item]);
      return;
    }
    for (const [index, item] of items.entries()) {
      const failure = failures?.get(index);
      if (failure === undefined) item.entry.msg.ack();
      await (failure === undefined ? Promise.resolve() : this.settleError(item.entry, failure)).finally(item.entry.settled);
    }
  }

  private async settleOne(entry: Entry, run: () => Promise<void>): Promise<void> {
    try {
      await run();
      entry.msg.ack();
    } catch (error) {
      await this.settleError(entry, error);
    } finally {
      entry.settled();
    }
  }

  /** A handler's error, settled by its kind: permanent at once to the DLQ, transient on the backoff schedule. */
  private async settleError(entry: Entry, error: unknown): Promise<void> {
    const { log, spec } = this.options;
    const { msg, delivery } = entry;
    if (error instanceof PermanentError || error instanceof InvalidEventError) {
      await this.settleFailure(msg, delivery, 'permanent', error);
    } else if (delivery.deliveryCount >= this.maxAttempts) {
      await this.settleFailure(msg, delivery, 'exhausted', error);
    } else {
      const delay = retryDelayMs(error instanceof RetryLaterError ? error.retryDelaysMs : this.backoff, delivery.deliveryCount);
      log.warn(
        { err: error, consumer: spec.durable, subject: delivery.subject, attempt: delivery.deliveryCount, retryInMs: delay },
        'handler failed; will retry',
      );
      msg.nak(this.options.redeliveryDelay?.(delay) ?? delay);
      observe(retryDelays(), { consumer: spec.durable, attempt: String(delivery.deliveryCount) }, delay / 1000);
    }
  }

  private async settleFailure(msg: JsMsg, delivery: Delivery, reason: DeadLetterReason, error: unknown): Promise<void> {
    const { log, spec } = this.options;
    try {
      await this.deadLetter(msg, delivery, reason, error);
      msg.term(`dead-lettered: ${reason}`);
      log.error(
        { err: error, consumer: spec.durable, subject: delivery.subject, sequence: delivery.streamSequence, reason },
        'message dead-lettered',
      );
    } catch (dlqError) {
      // The DLQ is unreachable: leave the message to be redelivered rather than lose it.
      log.error({ err: dlqError, consumer: spec.durable, subject: delivery.subject }, 'dead-lettering failed; will retry');
      msg.nak(this.backoff[0] ?? 1000);
    }
  }

  private async deadLetter(msg: JsMsg, delivery: Delivery, reason: DeadLetterReason, error: unknown): Promise<void> {
    const { spec } = this.options;
    const redriven = delivery.subject === dlqRedriveSubject(spec.durable);
    const letter = buildDeadLetter({
      consumer: spec.durable,
      reason,
      error,
      attempts: delivery.deliveryCount,
      failedAt: new Date(),
      messageId: `${spec.durable}:${redriven ? DLQ_STREAM : spec.stream}:${delivery.streamSequence}:${delivery.deliveryCount}`,
      original: {
        subject: delivery.subject,
        stream: spec.stream,
        sequence: delivery.streamSequence,
        headers: delivery.headers,
        payload: msg.data,
      },
    });
    await publishDeadLetter(this.js, letter);
  }
}
