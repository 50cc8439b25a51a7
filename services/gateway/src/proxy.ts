import { UpstreamError } from '@jetsaga/platform';
import type { Context } from 'hono';

export type Upstream = 'order' | 'inventory' | 'payment' | 'sales' | 'event-store';

type Route = { prefix: string; upstream: Upstream; exact?: { method: string } };

/**
 * Which service owns which part of the API. The gateway holds no state and no business rule. The first match wins:
 * the order list is a read model of the event store (CQRS), a single order is the order service's own record.
 */
export const ROUTES: readonly Route[] = [
  { prefix: '/api/orders', upstream: 'event-store', exact: { method: 'GET' } },
  { prefix: '/api/customers', upstream: 'payment' },
  { prefix: '/api/products', upstream: 'inventory' },
  { prefix: '/api/carts', upstream: 'order' },
  { prefix: '/api/orders', upstream: 'order' },
  { prefix: '/api/sales', upstream: 'sales' },
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
    route.exact ? path === route.prefix && method === route.exact.method : path === route.prefix || path.startsWith(`${route.prefix}/`),
  )?.upstream;
}

const TRACE_CONTEXT = new Set(['traceparent', 'tracestate']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'te', 'trailer']);

/** Forwards the request as it came, with the gateway's request id, and the answer as it went. */
export async function forward(c: Context, baseUrl: string): Promise<Response> {
  const incoming = new URL(c.req.url);
  const target = new URL(incoming.pathname + incoming.search, baseUrl);
  const headers = new Headers();
  // The caller's trace context is continued by this request's own client span, which sends its own.
  for (const [key, value] of c.req.raw.headers) if (!HOP_BY_HOP.has(key) && !TRACE_CONTEXT.has(key)) headers.set(key, value);
  headers.set('x-request-id', c.get('requestId'));
  headers.set('x-forwarded-host', incoming.host);
  const hasBody = !['GET', 'HEAD'].includes(c.req.method);
  let response: Response;
  try {
    response = await fetch(target, {
      method: c.req.method,
      headers,
      body: hasBody ? await c.req.arrayBuffer() : undefined,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new UpstreamError(`the ${target.host} service did not answer`, { cause: error });
  }
  const out = new Headers();
  for (const [key, value] of response.headers) if (!HOP_BY_HOP.has(key)) out.set(key, value);
  return new Response(response.body, { status: response.status, headers: out });
}
