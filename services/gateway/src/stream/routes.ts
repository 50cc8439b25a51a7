import { randomBytes } from 'node:crypto';
import {
  counter,
  ForbiddenError,
  gauge,
  HttpError,
  type Logger,
  type NatsConnection,
  type Principal,
  routes,
  type Routes,
  UpstreamError,
} from '@jetsaga/platform';
import { z } from 'zod';
import { type EndReason, type FollowedStream, followEvents } from './follow.js';
import { eventMatcher, payloadFilter, streamQuery, subjectsOf } from './filters.js';
import { resumeAfter } from './frames.js';
import { LiveTail } from './tail.js';

export const STREAM_PATH = '/api/stream/events';

export type StreamLimits = {
  /** Open streams per principal (role and subject); one more is a 429. */
  perPrincipal: number;
  /** Open streams of the whole gateway; one more is a 503. */
  total: number;
  bufferBytes: number;
  stallMs: number;
  pingMs: number;
  batch: number;
  /** How long the live tail gathers events before it hands them to its clients. */
  flushMs: number;
};

export type StreamDeps = {
  /** Undefined while the gateway has no NATS connection: 503. */
  nc: () => NatsConnection | undefined;
  log: Logger;
  limits: StreamLimits;
  /** Whether the saga of `correlationId` is one of the caller's own orders (asked of the service that knows). */
  ownsSaga: (authorization: string, correlationId: string) => Promise<boolean>;
  /** Whether the parcel `shipmentId` is one of the caller's own (asked of shipping). */
  ownsShipment: (authorization: string, shipmentId: string) => Promise<boolean>;
};

export class TooManyStreamsError extends HttpError {
  override name = 'TooManyStreamsError';
  constructor(limit: number, scope: string) {
    super(429, 'Too many streams', `${scope} has ${limit} event streams open already; close one first`, [
      { field: 'stream', reason: `at most ${limit} open streams ${scope === 'this principal' ? 'per principal' : 'in all'}` },
    ]);
  }
}

class StreamUnavailableError extends HttpError {
  override name = 'StreamUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super(503, 'Event stream unavailable', message, [], options);
  }
}

function metrics() {
  return {
    open: gauge({ name: 'gateway_sse_streams', help: 'Event streams (GET /api/stream/events) open now.' }),
    sent: counter({ name: 'gateway_sse_events_sent_total', help: 'Events queued for event-stream clients.' }),
    ended: counter({
      name: 'gateway_sse_streams_ended_total',
      help: 'Event streams ended, by reason: the client closed it, it stayed too slow (overflow), NATS failed (error), or the gateway drained (shutdown).',
      labelNames: ['reason'],
    }),
  };
}
let metricSet: ReturnType<typeof metrics> | undefined;

const principalKey = (principal: Principal) => `${principal.role}:${principal.subject}`;

/** GET /api/stream/events: the live event stream (Server-Sent Events), docs/adr/0054-live-event-stream.md. */
export function streamRoutes(deps: StreamDeps): Routes & { endStreams(): number } {
  metricSet ??= metrics();
  const m = metricSet;
  const open = new Map<string, number>();
  // The open streams, which a draining gateway ends (endStreams); a stream opened after that ends at once.
  const streams = new Set<FollowedStream>();
  let ending = false;
  let total = 0;
  // One ordered consumer of every new event for all the gateway's live clients (ADR 0054).
  const tail = new LiveTail({
    namePrefix: `sse_tail_${randomBytes(6).toString('hex')}`,
    log: deps.log,
    flushMs: deps.limits.flushMs,
  });
  const declared = routes().add({
    method: 'get',
    path: STREAM_PATH,
    summary: 'The live event stream (Server-Sent Events), filtered, resumable by stream sequence',
    description: [
      'Each event is one SSE frame: `id:` its EVENTS stream sequence, `event:` its type, `data:` the envelope as published (JSON).',
      'Resume after a sequence with the `Last-Event-ID` header (what a reconnecting EventSource sends) or `?after=`; with neither, `from=start` replays the history and the default follows new events only.',
      'A `: ping` comment comes every 15 s. A client that stays too slow gets an `overflow` frame naming the last id it was sent (`data: {"lastEventId", "reason"}`) and the stream ends: resume from that id.',
      'Live events come from one shared reader of the event log in the gateway, each filter matched there; a client that resumes reads what it missed first, then joins it, each event once.',
    ].join('\n\n'),
    tags: ['events'],
    roles: ['customer', 'agent', 'admin'],
    ownership:
      'A customer must name the `correlationId` of one of their own orders, or one of their parcels (`aggregateType=shipment` and its id as `aggregateId`).',
    query: streamQuery,
    responses: {
      200: {
        description: 'The stream: `id:`, `event:`, `data:` frames and `: ping` comments',
        schema: z.string().meta({ description: 'text/event-stream frames' }),
        contentType: 'text/event-stream',
      },
    },
    problems: {
      502: 'the event store (or shipping) could not say whose order the saga (or the parcel) is',
      429: 'too many open streams for this principal',
      503: 'NATS is not reachable, or the gateway holds its maximum of streams',
    },
    handler: async (c, { query, principal }) => {
      if (principal.role === 'customer') {
        const authorization = c.req.header('authorization') ?? '';
        if (query.correlationId) {
          const owned = await deps.ownsSaga(authorization, query.correlationId).catch((error: unknown) => {
            throw new UpstreamError('the event store did not say whose order this saga is', { cause: error });
          });
          if (!owned) throw new ForbiddenError(`saga ${query.correlationId} is not one of your orders`);
        } else if (query.aggregateType === 'shipment' && query.aggregateId) {
          const owned = await deps.ownsShipment(authorization, query.aggregateId).catch((error: unknown) => {
            throw new UpstreamError('shipping did not say whose parcel this is', { cause: error });
          });
          if (!owned) throw new ForbiddenError(`parcel ${query.aggregateId} is not one of yours`);
        } else {
          throw new ForbiddenError(
            'a customer follows the events of one of their own orders (its correlationId) or parcels (aggregateType=shipment and its aggregateId) only',
          );
        }
      }
      const nc = deps.nc();
      if (!nc || nc.isClosed()) throw new StreamUnavailableError('the gateway is not connected to NATS; retry shortly');
      const key = principalKey(principal);
      const mine = open.get(key) ?? 0;
      if (mine >= deps.limits.perPrincipal) throw new TooManyStreamsError(deps.limits.perPrincipal, 'this principal');
      if (total >= deps.limits.total)
        throw new StreamUnavailableError(`the gateway holds its maximum of ${deps.limits.total} event streams`);
      open.set(key, mine + 1);
      total += 1;
      m.open.inc();
      let released = false;
      let followed: FollowedStream | undefined;
      const release = (reason: EndReason) => {
        if (released) return;
        released = true;
        if (followed) streams.delete(followed);
        total -= 1;
        const left = (open.get(key) ?? 1) - 1;
        if (left > 0) open.set(key, left);
        else open.delete(key);
        m.open.dec();
        m.ended.inc({ reason });
      };
      const after = resumeAfter(c.req.header('last-event-id'), query.after);
      try {
        followed = await followEvents({
          nc,
          tail,
          subjects: subjectsOf(query),
          ...(query.correlationId ? { payloadMatches: payloadFilter(query)! } : {}),
          matches: eventMatcher(query),
          ...(after !== undefined ? { after } : {}),
          fromStart: query.from === 'start',
          bufferBytes: deps.limits.bufferBytes,
          stallMs: deps.limits.stallMs,
          pingMs: deps.limits.pingMs,
          batch: deps.limits.batch,
          namePrefix: `sse_${randomBytes(6).toString('hex')}`,
          retryMs: 1000,
          log: deps.log,
          onEnd: release,
          onEvent: (count) => m.sent.inc(count),
        });
      } catch (error) {
        release('error');
        throw new StreamUnavailableError('the event stream could not be opened on NATS; retry shortly', { cause: error });
      }
      // Closing the connection cancels the body (and so leaves the tail, deletes a catch-up consumer); the signal covers a client that leaves
      // before the first byte is written.
      const stream = followed;
      c.req.raw.signal.addEventListener('abort', () => void stream.close(), { once: true });
      if (!released) streams.add(stream);
      if (ending) stream.finish('shutdown');
      return new Response(followed.body, {
        status: 200,
        headers: {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache, no-transform',
          // Proxies (nginx and the ingress controllers built on it) would otherwise buffer the stream.
          'X-Accel-Buffering': 'no',
        },
      });
    },
  });
  return Object.assign(declared, {
    /**
     * A draining gateway (SIGTERM, after its shutdown delay: no new request comes from the Service) ends every open
     * stream instead of holding it to the drain timeout; each client reconnects, through the Service, to another
     * gateway with its Last-Event-ID. Returns how many it ended.
     */
    endStreams(): number {
      ending = true;
      const ended = streams.size;
      for (const stream of [...streams]) stream.finish('shutdown');
      return ended;
    },
  });
}
