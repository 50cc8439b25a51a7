import { EVENTS_STREAM, parseEventSubject } from '@jetsaga/events';
import type { Logger, NatsConnection } from '@jetsaga/platform';
import { type Consumer, type ConsumerMessages, DeliverPolicy, jetstream, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { comment, frame, retry } from './frames.js';

/**
 * One client's event stream: an ordered consumer of EVENTS (ephemeral, created and deleted here, one per client) read
 * batch by batch, only as fast as the client takes the frames. docs/adr/0054-live-event-stream.md.
 *
 * Back-pressure: the response body is a ReadableStream with a byte bound (`bufferBytes`); the next message is pulled
 * from NATS only while that buffer has room, and one fetch asks for at most `batch` messages, so what a slow client
 * holds in the gateway is at most the buffer plus one batch, however far behind it is. A client that takes nothing
 * for `stallMs` while its buffer is full gets an `overflow` frame naming the last id it was sent, and the stream ends:
 * it resumes from there (`Last-Event-ID`), reading the stream's history at its own pace.
 */
export type FollowOptions = {
  nc: NatsConnection;
  /** Subject filters on EVENTS (filters.ts); NATS delivers nothing else. */
  subjects: readonly string[];
  /** Start after this stream sequence; undefined: `fromStart` or only new events. */
  after?: number;
  fromStart?: boolean;
  /** A filter NATS cannot apply by subject (the correlation id is in the payload). */
  matches?: (payload: Uint8Array) => boolean;
  bufferBytes: number;
  stallMs: number;
  pingMs: number;
  batch: number;
  /** How long one pull waits for new events before the next one (an idle stream costs one pull per this). */
  fetchExpiresMs?: number;
  /** The consumers' name prefix (`sse_<id>`): the server's consumer list shows which are the gateway's. */
  namePrefix: string;
  /** The client's reconnection delay (`retry:`). */
  retryMs?: number;
  log: Logger;
  onEnd?: (reason: EndReason, sent: number) => void;
  /** Each frame of an event as it is queued for the client (metrics). */
  onEvent?: () => void;
};

export type EndReason = 'client-closed' | 'overflow' | 'error';

/** What the stream sends with an `overflow` frame: where to resume from. */
export type OverflowData = { lastEventId: string | null; reason: string };

export type FollowedStream = { body: ReadableStream<Uint8Array>; consumerName: string; close(): Promise<void> };

function startOf(options: Pick<FollowOptions, 'after' | 'fromStart'>) {
  if (options.after !== undefined) return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.after + 1 };
  return { deliver_policy: options.fromStart ? DeliverPolicy.All : DeliverPolicy.New };
}

/**
 * Creates the ordered consumer (so a refused or failed creation is an HTTP error before any byte is sent) and returns
 * the body that follows it.
 */
export async function followEvents(options: FollowOptions): Promise<FollowedStream> {
  const consumer: Consumer = await jetstream(options.nc).consumers.get(EVENTS_STREAM, {
    name_prefix: options.namePrefix,
    filter_subjects: [...options.subjects],
    ...startOf(options),
    // A gateway that died without deleting it: the server drops the consumer after this long without a pull.
    inactive_threshold: nanos(Math.max(60_000, 2 * options.stallMs)),
  });
  const consumerName = (await consumer.info(true)).name;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let sent = 0;
  let lastId: string | null = options.after !== undefined ? String(options.after) : null;
  let fetching: ConsumerMessages | undefined;
  let wake: (() => void) | undefined;
  let ping: ReturnType<typeof setInterval> | undefined;

  const stop = async (reason: EndReason) => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    wake?.();
    fetching?.stop();
    options.onEnd?.(reason, sent);
    // The server would drop it after inactive_threshold anyway; deleting it now keeps the consumer count honest.
    await consumer.delete().catch((error: unknown) => options.log.debug({ err: error, consumer: consumerName }, 'consumer already gone'));
  };

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

  const send = (msg: JsMsg) => {
    const type = parseEventSubject(msg.subject)?.eventType;
    lastId = String(msg.seq);
    sent += 1;
    controller.enqueue(frame({ id: lastId, ...(type ? { event: type } : {}), data: msg.data }));
    options.onEvent?.();
  };

  const pump = async () => {
    while (!closed) {
      fetching = await consumer.fetch({ max_messages: options.batch, expires: options.fetchExpiresMs ?? 15_000 });
      for await (const msg of fetching) {
        if (closed) break;
        if (options.matches && !options.matches(msg.data)) continue;
        send(msg);
        if ((controller.desiredSize ?? 0) <= 0 && !(await room()) && !closed) {
          end('overflow', {
            lastEventId: lastId,
            reason: `the client took nothing for ${options.stallMs} ms with ${options.bufferBytes} bytes waiting`,
          });
          return;
        }
      }
    }
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        controller.enqueue(comment(`following EVENTS${lastId ? ` after ${lastId}` : ''}`));
        if (options.retryMs !== undefined) controller.enqueue(retry(options.retryMs));
        ping = setInterval(() => {
          if (!closed && (controller.desiredSize ?? 0) > 0) controller.enqueue(comment('ping'));
        }, options.pingMs);
        ping.unref?.();
        pump().catch((error: unknown) => {
          if (closed) return;
          options.log.warn({ err: error, consumer: consumerName }, 'event stream interrupted; the client resumes from its last id');
          end('error');
        });
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
  return { body, consumerName, close: () => stop('client-closed') };
}
