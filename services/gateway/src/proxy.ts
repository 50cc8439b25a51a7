import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { HttpError, UpstreamError } from '@jetsaga/platform';
import type { Context } from 'hono';

export type Upstream = 'order' | 'inventory' | 'payment' | 'sales' | 'support' | 'event-store' | 'shipping' | 'notification' | 'audit';

type Route = { prefix: string; upstream: Upstream; exact?: { method: string }; pattern?: RegExp };

/**
 * Which service owns which part of the API. The gateway holds no state and no business rule. The first match wins:
 * the order list is a read model of the event store (CQRS), a single order is the order service's own record.
 */
export const ROUTES: readonly Route[] = [
  { prefix: '/api/orders', upstream: 'event-store', exact: { method: 'GET' } },
  // A customer's email preferences are notification's, the rest of the customer payment's.
  { prefix: '/api/customers', upstream: 'notification', pattern: /^\/api\/customers\/[^/]+\/notification-preferences$/ },
  { prefix: '/api/customers', upstream: 'payment' },
  { prefix: '/api/products', upstream: 'inventory' },
  { prefix: '/api/carts', upstream: 'order' },
  { prefix: '/api/orders', upstream: 'order' },
  { prefix: '/api/sales', upstream: 'sales' },
  { prefix: '/api/complaints', upstream: 'support' },
  { prefix: '/api/shipments', upstream: 'shipping' },
  { prefix: '/api/notifications', upstream: 'notification' },
  { prefix: '/api/audit', upstream: 'audit' },
  { prefix: '/api/events', upstream: 'event-store' },
  { prefix: '/api/streams', upstream: 'event-store' },
  { prefix: '/api/aggregates', upstream: 'event-store' },
  { prefix: '/api/sagas', upstream: 'event-store' },
  { prefix: '/api/reports', upstream: 'event-store' },
  { prefix: '/api/projections', upstream: 'event-store' },
  { prefix: '/api/event-store', upstream: 'event-store' },
  { prefix: '/api/dlq', upstream: 'event-store' },
];

export function upstreamFor(method: string, path: string): Upstream | undefined {
  return ROUTES.find((route) =>
    route.pattern
      ? route.pattern.test(path)
      : route.exact
        ? path === route.prefix && method === route.exact.method
        : path === route.prefix || path.startsWith(`${route.prefix}/`),
  )?.upstream;
}

const TRACE_CONTEXT = new Set(['traceparent', 'tracestate']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'te', 'trailer']);

/**
 * Kept-alive connections to the services. node:http rather than fetch: every request of every saga passes here, and
 * fetch's web streams cost several times the CPU of a plain socket write on this path (docs/performance.md).
 *
 * The services close a connection idle for 5 s (Node's `keepAliveTimeout`). A socket the other side closes just as a
 * request goes out on it resets before any answer; so the gateway closes idle sockets first, after IDLE_SOCKET_MS
 * (Node's agent only shortens its own idle timeout to the server's `Keep-Alive: timeout=` hint when it has one: with
 * none set it keeps idle sockets forever).
 */
const IDLE_SOCKET_MS = 2000;
const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_MS });

/** How long the gateway waits for a service's whole answer by default (GATEWAY_UPSTREAM_TIMEOUT_MS). */
export const UPSTREAM_TIMEOUT_MS = 30_000;

/** The service took longer than the gateway waits: 504, not a hang. */
export class GatewayTimeoutError extends HttpError {
  override name = 'GatewayTimeoutError';
  constructor(host: string, timeoutMs: number) {
    super(
      504,
      'Gateway timeout',
      `the ${host} service did not answer within ${timeoutMs} ms; a request that changes something may still take effect: read before sending it again`,
    );
  }
}

class NoAnswerInTime extends Error {
  override name = 'NoAnswerInTime';
}

/** Methods a client may send again when it cannot know whether the first attempt arrived (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

type Answer = { status: number; headers: IncomingHttpHeaders; body: Buffer };

function send(
  target: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  retried: boolean,
  deadline: number,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let answered = false;
    let late = false;
    // However the socket's end surfaces (on the request or on a half-read answer), past the deadline it is a 504.
    const fail = (error: unknown) => {
      clearTimeout(timer);
      reject(late ? new NoAnswerInTime() : error);
    };
    // The second attempt takes a connection of its own: another idle socket of the pool may be as stale as the first.
    const outgoing = request(target, { method, headers, agent: retried ? false : agent }, (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', fail);
      response.once('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) });
      });
    });
    // The whole answer within the deadline, not merely some byte now and then: a service that trickles is as late.
    const timer = setTimeout(
      () => {
        late = true;
        outgoing.destroy(new NoAnswerInTime());
      },
      Math.max(0, deadline - Date.now()),
    );
    outgoing.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A kept-alive socket that reset before any byte of an answer: the race above, if the idle timeout lost it.
      // Sent again once on a fresh socket, but only when sending twice is harmless: a POST that reached the service
      // before the reset may have changed something, and a second one would change it again (a second cart).
      const reset = error.code === 'ECONNRESET' || error.code === 'EPIPE';
      if (!late && !retried && !answered && reset && outgoing.reusedSocket && IDEMPOTENT.has(method)) {
        return resolve(send(target, method, headers, body, true, deadline));
      }
      fail(error);
    });
    outgoing.end(body);
  });
}

/** Forwards the request as it came, with the gateway's request id, and the answer as it went (or 504 past `timeoutMs`). */
export async function forward(c: Context, baseUrl: string, timeoutMs = UPSTREAM_TIMEOUT_MS): Promise<Response> {
  const incoming = new URL(c.req.url);
  const target = new URL(incoming.pathname + incoming.search, baseUrl);
  const headers: Record<string, string> = {};
  // The caller's trace context is continued by this request's own client span, which sends its own.
  for (const [key, value] of c.req.raw.headers) if (!HOP_BY_HOP.has(key) && !TRACE_CONTEXT.has(key)) headers[key] = value;
  headers['x-request-id'] = c.get('requestId');
  headers['x-forwarded-host'] = incoming.host;
  const body = ['GET', 'HEAD'].includes(c.req.method) ? undefined : Buffer.from(await c.req.arrayBuffer());
  if (body) headers['content-length'] = String(body.length);
  // The API answers JSON documents, never streams: the answer is read whole and passed on.
  const answer = await send(target, c.req.method, headers, body, false, Date.now() + timeoutMs).catch((error: unknown) => {
    if (error instanceof NoAnswerInTime) throw new GatewayTimeoutError(target.host, timeoutMs);
    throw new UpstreamError(`the ${target.host} service did not answer`, { cause: error });
  });
  const out = new Headers();
  for (const [key, value] of Object.entries(answer.headers)) {
    if (value === undefined || HOP_BY_HOP.has(key)) continue;
    for (const item of Array.isArray(value) ? value : [value]) out.append(key, item);
  }
  const empty = answer.status === 204 || answer.status === 304 || c.req.method === 'HEAD';
  return new Response(empty ? null : answer.body, { status: answer.status, headers: out });
}
