import { EVENTS_STREAM, parseEventSubject } from '@jetsaga/events';
import type { Logger, NatsConnection } from '@jetsaga/platform';
import { type Consumer, type ConsumerMessages, DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { comment, frame, retry } from './frames.js';
import { Backlog, Cursor } from './handover.js';
import { joinFrames, type LiveTail, type TailEvent, type TailSubscriber } from './tail.js';

/**
 * One client's event stream (docs/adr/0054-live-event-stream.md). A client that follows new events joins the
 * gateway's shared live tail (tail.ts): the same frame of each event goes to every client whose filters match it. A
 * client with history to read first (`Last-Event-ID`, `after`, `from=start`) joins the tail, holds what it delivers,
 * and reads the history from an ordered consumer of its own, at its own pace, until nothing is pending; then it sends
 * what it held, skipping what it was sent already (handover.ts), and follows the tail.
 *
 * Back-pressure: the response body is a ReadableStream with a byte bound (`bufferBytes`). Catching up, the next
 * message is pulled only while that buffer has room, one fetch at most `batch` messages. Live, a flush of the tail
 * that finds the buffer full is not queued: the client leaves the tail and, once it reads again, catches up from its
 * last id. So a slow client holds at most the buffer plus one batch or one flush (plus, while catching up, at most
 * `bufferBytes` of held live events), however far behind it is. A client that takes nothing for `stallMs` while its buffer is full gets an
 * `overflow` frame naming the last id it was sent, and the stream ends: it resumes from there (`Last-Event-ID`).
 */
export type FollowOptions = {
  nc: NatsConnection;
  tail: LiveTail;
  /** Subject filters on EVENTS for the catch-up (filters.ts); NATS delivers nothing else. */
  subjects: readonly string[];
  /** A filter NATS cannot apply by subject (the correlation id is in the payload), for the catch-up. */
  payloadMatches?: (payload: Uint8Array) => boolean;
  /** The same filters over a live event (filters.ts: eventMatcher). */
  matches: (event: TailEvent) => boolean;
  /** Start after this stream sequence; undefined: `fromStart` or only new events. */
  after?: number;
  fromStart?: boolean;
  bufferBytes: number;
  stallMs: number;
  pingMs: number;
  batch: number;
  /** How long one catch-up pull waits for events. */
  fetchExpiresMs?: number;
  /** The catch-up consumers' name prefix (`sse_<id>`): the server's consumer list shows which are the gateway's. */
  namePrefix: string;
  /** The client's reconnection delay (`retry:`). */
  retryMs?: number;
  log: Logger;
  onEnd?: (reason: EndReason, sent: number) => void;
  /** Events queued for the client, by the chunk (metrics). */
  onEvent?: (count: number) => void;
};

/** `shutdown`: the gateway drains (SIGTERM), and ends the stream for its client to resume on another gateway. */
export type EndReason = 'client-closed' | 'overflow' | 'error' | 'shutdown';

/** What the stream sends with an `overflow` frame: where to resume from. */
export type OverflowData = { lastEventId: string | null; reason: string };

export type FollowedStream = {
  body: ReadableStream<Uint8Array>;
  close(): Promise<void>;
  /**
   * Ends the stream as a server may: what is queued is still sent, then the response ends. Every frame carries its
   * id, so the client's EventSource reconnects (after `retry:`) with the Last-Event-ID and misses nothing.
   */
  finish(reason: Extract<EndReason, 'shutdown'>): void;
  /** Whether the client follows the shared tail now (false while it catches up, or waits for room). */
  live(): boolean;
  /** The client's own catch-up consumer, while it has one. */
  catchUpConsumer(): string | undefined;
};

type Mode = 'live' | 'catching-up' | 'lagging';

/**
 * Joins the tail and, with history to read, creates the catch-up consumer, so that a refused or failed creation is
 * an HTTP error before any byte is sent; returns the body.
 */
export async function followEvents(options: FollowOptions): Promise<FollowedStream> {
  const js = jetstream(options.nc);
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let sent = 0;
  const cursor = new Cursor(options.after);
  const backlog = new Backlog<TailEvent>(options.bufferBytes);
  let mode: Mode = options.after !== undefined || options.fromStart ? 'catching-up' : 'live';
  let joined = false;
  let catchUp: Consumer | undefined;
  let catchUpName: string | undefined;
  let fetching: ConsumerMessages | undefined;
  let wake: (() => void) | undefined;
  let ping: ReturnType<typeof setInterval> | undefined = undefined;

  const leaveTail = () => {
    joined = false;
    options.tail.leave(subscriber);
  };

  const stop = async (reason: EndReason) => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    wake?.();
    fetching?.stop();
    leaveTail();
    options.onEnd?.(reason, sent);
    // The server would drop it after inactive_threshold anyway; deleting it now keeps the consumer count honest.
    await catchUp?.delete().catch((error: unknown) => options.log.debug({ err: error, consumer: catchUpName }, 'consumer already gone'));
  };

  const lastEventId = () => (cursor.last !== undefined ? String(cursor.last) : null);

  const end = (reason: EndReason, data?: OverflowData) => {
    if (closed) return;
    try {
      if (data)
        controller.enqueue(frame({ ...(data.lastEventId ? { id: data.lastEventId } : {}), event: 'overflow', data: JSON.stringify(data) }));
      controller.close();
    } catch {
      // The client went away at the same moment: cancel() runs stop().
    }
    void stop(reason);
  };

  const interrupted = (error: unknown) => {
    if (closed) return;
    options.log.warn({ err: error, consumer: catchUpName }, 'event stream interrupted; the client resumes from its last id');
    end('error');
  };

  const overflow = () =>
    end('overflow', {
      lastEventId: lastEventId(),
      reason: `the client took nothing for ${options.stallMs} ms with ${options.bufferBytes} bytes waiting`,
    });

  const hasRoom = () => (controller.desiredSize ?? 0) > 0;

  /** Resolves when the client has taken enough for the buffer to have room again, false after `stallMs` without. */
  const room = () =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve(false);
      }, options.stallMs);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve(true);
      };
    });

  const send = (bytes: Uint8Array, count = 1) => {
    sent += count;
    controller.enqueue(bytes);
    options.onEvent?.(count);
  };

  /** A live event found the buffer full: leave the tail, and once the client reads again, catch up from its last id. */
  const lag = (seq: number) => {
    mode = 'lagging';
    leaveTail();
    backlog.reset();
    // Nothing sent yet (the buffer filled with the opening lines alone): the catch-up starts at this event.
    if (cursor.last === undefined) cursor.take(seq - 1);
    room()
      .then(async (ok) => {
        if (closed) return;
        if (!ok) return overflow();
        await startCatchUp();
      })
      .catch(interrupted);
  };

  const subscriber: TailSubscriber = {
    deliver(batch) {
      if (closed) return;
      if (mode === 'live') {
        const fresh: TailEvent[] = [];
        for (const event of batch.events)
          if (options.matches(event) && (cursor.last === undefined || event.seq > cursor.last)) fresh.push(event);
        if (fresh.length === 0) return;
        if (!hasRoom()) return lag(fresh[0]!.seq);
        cursor.take(fresh[fresh.length - 1]!.seq);
        // All of it: the batch's own bytes, shared with every client that takes all of it.
        send(fresh.length === batch.events.length ? batch.bytes() : joinFrames(fresh), fresh.length);
      } else if (mode === 'catching-up') {
        for (const event of batch.events) if (options.matches(event)) backlog.push(event);
        // Too much held: let it go; the catch-up reads on and joins again when it has read all.
        if (!backlog.complete) leaveTail();
      }
    },
    fail(error) {
      joined = false;
      interrupted(error);
    },
  };

  const joinTail = async () => {
    await options.tail.join(options.nc, subscriber);
    joined = true;
  };

  /** Joins the tail (first: what is stored from then on reaches the backlog), then opens the catch-up consumer. */
  const openCatchUp = async () => {
    mode = 'catching-up';
    backlog.reset();
    await joinTail();
    const consumer = await js.consumers.get(EVENTS_STREAM, {
      name_prefix: options.namePrefix,
      filter_subjects: [...options.subjects],
      ...(cursor.last !== undefined
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: cursor.last + 1 }
        : { deliver_policy: DeliverPolicy.All }),
      // A gateway that died without deleting it: the server drops the consumer after this long without a pull.
      inactive_threshold: nanos(Math.max(60_000, 2 * options.stallMs)),
    });
    catchUp = consumer;
    catchUpName = (await consumer.info(true)).name;
    if (closed) void consumer.delete().catch(() => undefined);
    return consumer;
  };

  const dropCatchUp = (consumer: Consumer) => {
    if (catchUp === consumer) catchUp = undefined;
    void consumer.delete().catch((error: unknown) => options.log.debug({ err: error, consumer: catchUpName }, 'consumer already gone'));
  };

  /**
   * Reads the history until nothing is pending while the client holds every live event since it joined the tail,
   * then hands over to the tail.
   */
  const readHistory = async (first: Consumer) => {
    let consumer = first;
    try {
      let caughtUp = (await consumer.info(true)).num_pending === 0;
      while (!closed) {
        if (caughtUp) {
          if (joined && backlog.complete) break;
          // The backlog was let go, and with it what the last pull may have delivered past the point where nothing
          // was pending: join again and read on from a new consumer, created after that moment.
          dropCatchUp(consumer);
          consumer = await openCatchUp();
          caughtUp = (await consumer.info(true)).num_pending === 0;
          continue;
        }
        fetching = await consumer.fetch({ max_messages: options.batch, expires: options.fetchExpiresMs ?? 15_000 });
        let got = 0;
        for await (const msg of fetching) {
          got += 1;
          if (closed) break;
          if ((!options.payloadMatches || options.payloadMatches(msg.data)) && cursor.take(msg.seq)) {
            const type = parseEventSubject(msg.subject)?.eventType;
            send(frame({ id: String(msg.seq), ...(type ? { event: type } : {}), data: msg.data }));
          }
          // Nothing more stored: what comes next comes through the tail (a message this pull still gets is in the
          // backlog too, since it was stored after the client joined).
          if (msg.info.pending === 0) {
            caughtUp = true;
            fetching.stop();
            break;
          }
          if (!hasRoom() && !(await room()) && !closed) return overflow();
        }
        // A pull that found nothing at all: nothing was pending while it waited.
        if (got === 0) caughtUp = true;
      }
    } finally {
      dropCatchUp(consumer);
    }
    if (closed) return;
    for (const event of backlog.drain()) {
      if (cursor.last !== undefined && event.seq <= cursor.last) continue;
      if (!hasRoom()) return lag(event.seq);
      cursor.take(event.seq);
      send(event.frame);
    }
    mode = 'live';
  };

  const startCatchUp = async () => readHistory(await openCatchUp());

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        controller.enqueue(comment(`following EVENTS${options.after !== undefined ? ` after ${options.after}` : ''}`));
        if (options.retryMs !== undefined) controller.enqueue(retry(options.retryMs));
      },
      pull() {
        wake?.();
      },
      cancel() {
        return stop('client-closed');
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: options.bufferBytes }),
  );

  let first: Consumer | undefined;
  try {
    if (mode === 'catching-up') first = await openCatchUp();
    else await joinTail();
  } catch (error) {
    closed = true;
    options.tail.leave(subscriber);
    throw error;
  }
  ping = setInterval(() => {
    if (!closed && hasRoom()) controller.enqueue(comment('ping'));
  }, options.pingMs);
  ping.unref?.();
  if (first) void readHistory(first).catch(interrupted);
  return {
    body,
    close: () => stop('client-closed'),
    finish: (reason) => end(reason),
    live: () => mode === 'live' && joined,
    catchUpConsumer: () => (catchUp ? catchUpName : undefined),
  };
}
