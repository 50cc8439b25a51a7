import { EVENTS_STREAM, parseEventSubject } from '@jetsaga/events';
import type { Logger, NatsConnection } from '@jetsaga/platform';
import { type Consumer, type ConsumerMessages, DeliverPolicy, jetstream, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { frame } from './frames.js';

/**
 * One event of the live tail, as every client that follows it sees it: its position and subject tokens for the
 * filters, and its SSE frame, serialised once for all of them. docs/adr/0054-live-event-stream.md.
 */
export type TailEvent = {
  seq: number;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  frame: Uint8Array;
  /** The envelope's correlation id, parsed on the first ask (only a correlation filter asks), then kept. */
  correlationId(): string | undefined;
};

/** What the tail read since its last flush, in stream order. */
export type TailBatch = {
  readonly events: readonly TailEvent[];
  /** Every event's frame, joined: built on the first ask, then the same bytes for every client that takes them all. */
  bytes(): Uint8Array;
};

export type TailSubscriber = {
  /** Called for every flush of the tail, in stream order, from the moment `join` resolved (or a little before). */
  deliver(batch: TailBatch): void;
  /** The tail stopped reading (NATS failed): the subscriber is dropped and must end or start again. */
  fail(error: unknown): void;
};

/** Frames one after the other, as one chunk. */
export function joinFrames(events: readonly TailEvent[]): Uint8Array {
  if (events.length === 1) return events[0]!.frame;
  const out = new Uint8Array(events.reduce((total, event) => total + event.frame.length, 0));
  let offset = 0;
  for (const event of events) {
    out.set(event.frame, offset);
    offset += event.frame.length;
  }
  return out;
}

export function tailBatch(events: readonly TailEvent[]): TailBatch {
  let joined: Uint8Array | undefined;
  return { events, bytes: () => (joined ??= joinFrames(events)) };
}

const decoder = new TextDecoder();

export function tailEvent(seq: number, subject: string, data: Uint8Array): TailEvent | undefined {
  const parsed = parseEventSubject(subject);
  if (!parsed) return undefined;
  let correlation: string | undefined | null = null;
  return {
    seq,
    ...parsed,
    frame: frame({ id: String(seq), event: parsed.eventType, data }),
    correlationId() {
      if (correlation !== null) return correlation;
      try {
        const value = (JSON.parse(decoder.decode(data)) as { correlationId?: unknown }).correlationId;
        correlation = typeof value === 'string' ? value.toLowerCase() : undefined;
      } catch {
        correlation = undefined;
      }
      return correlation;
    },
  };
}

/** One running ordered consumer of every new event and the clients it feeds. */
class Feed {
  readonly subscribers = new Set<TailSubscriber>();
  readonly ready: Promise<void>;
  consumer: Consumer | undefined;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private pending: TailEvent[] = [];
  private flushing: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly nc: NatsConnection,
    private readonly options: TailOptions,
    private readonly onGone: (feed: Feed) => void,
  ) {
    this.ready = this.start();
    // A failed start is seen by every join that awaits it; this only keeps it from being an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  private async start() {
    try {
      this.consumer = await jetstream(this.nc).consumers.get(EVENTS_STREAM, {
        name_prefix: this.options.namePrefix,
        filter_subjects: ['events.>'],
        deliver_policy: DeliverPolicy.New,
        // A gateway that died without deleting it: the server drops it after a minute without a pull.
        inactive_threshold: nanos(60_000),
      });
      this.messages = await this.consumer.consume({ max_messages: this.options.maxMessages ?? 256 });
    } catch (error) {
      this.gone();
      await this.consumer?.delete().catch(() => undefined);
      throw error;
    }
    if (this.stopped) this.messages.stop();
    else void this.read(this.messages);
  }

  private async read(messages: ConsumerMessages) {
    let failure: unknown;
    try {
      for await (const msg of messages) this.dispatch(msg);
    } catch (error) {
      failure = error;
    }
    if (this.stopped) return;
    failure ??= new Error('the live tail of EVENTS ended');
    this.options.log.warn({ err: failure }, 'the live event tail stopped; its clients resume from their last id');
    this.gone();
    for (const subscriber of this.subscribers) subscriber.fail(failure);
    this.subscribers.clear();
    await this.consumer?.delete().catch(() => undefined);
  }

  private dispatch(msg: JsMsg) {
    const event = tailEvent(msg.seq, msg.subject, msg.data);
    if (!event) return;
    this.pending.push(event);
    this.flushing ??= setTimeout(this.flush, this.options.flushMs ?? 0);
  }

  /**
   * Hands what was read since the last flush to every subscriber at once, as one batch: a client that takes it all
   * gets the batch's joined frames as one chunk (one socket write), the same bytes as every other such client.
   */
  private readonly flush = () => {
    this.flushing = undefined;
    const batch = tailBatch(this.pending);
    this.pending = [];
    for (const subscriber of this.subscribers) subscriber.deliver(batch);
  };

  private gone() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.flushing);
    this.pending = [];
    this.onGone(this);
  }

  /** The last client left: stop reading and delete the consumer (the next client starts a new one). */
  async stop() {
    if (this.stopped) return;
    this.gone();
    this.messages?.stop();
    await this.ready.catch(() => undefined);
    await this.consumer?.delete().catch((error: unknown) => this.options.log.debug({ err: error }, 'live tail consumer already gone'));
  }
}

export type TailOptions = {
  /** The consumers' name prefix (`sse_tail_<id>`): the server's consumer list shows which one is the tail. */
  namePrefix: string;
  log: Logger;
  /** How many messages the tail keeps asked for at once. */
  maxMessages?: number;
  /** How long the tail gathers events before it hands them to its subscribers (0: at the next turn of the loop). */
  flushMs?: number;
};

/**
 * The live tail of EVENTS for the whole gateway: one ordered consumer of every new event, started when the first
 * client joins and deleted when the last one leaves, whose events (each framed once) go to every client that is
 * following live. Each client matches them against its own filters in-process (filters.ts), so a thousand open pages
 * cost the NATS server one consumer and the gateway one read and one serialisation per event.
 */
export class LiveTail {
  private feed: Feed | undefined;

  constructor(private readonly options: TailOptions) {}

  /**
   * Adds a subscriber; resolves once the tail's consumer exists, so that every event stored after that moment reaches
   * the subscriber (a catch-up created afterwards overlaps it: sequence numbers sort out the rest). Rejects when the
   * consumer cannot be created.
   */
  async join(nc: NatsConnection, subscriber: TailSubscriber): Promise<void> {
    if (this.feed && this.feed.nc !== nc) {
      // The gateway connected again: the old connection's feed is of no use.
      const old = this.feed;
      for (const other of old.subscribers) other.fail(new Error('the NATS connection was replaced'));
      old.subscribers.clear();
      void old.stop();
    }
    this.feed ??= new Feed(nc, this.options, (feed) => {
      if (this.feed === feed) this.feed = undefined;
    });
    const feed = this.feed;
    feed.subscribers.add(subscriber);
    try {
      await feed.ready;
    } catch (error) {
      feed.subscribers.delete(subscriber);
      throw error;
    }
  }

  leave(subscriber: TailSubscriber): void {
    const feed = this.feed;
    if (!feed || !feed.subscribers.delete(subscriber)) return;
    if (feed.subscribers.size === 0) void feed.stop();
  }

  /** The subscribers following live now. */
  get size(): number {
    return this.feed?.subscribers.size ?? 0;
  }
}
