import { trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { counter, histogram, LATENCY_BUCKETS, observe } from './metrics.js';

export type HttpMetricsOptions = {
  /** Paths that are not traffic (probes): neither counted nor timed. */
  ignore?: readonly string[];
};

const DEFAULT_IGNORE = ['/healthz', '/readyz'];

/**
 * RED metrics per route (rate, errors by status, duration with the trace as exemplar), and the route template as the
 * name of the request's server span (`GET /api/orders/:id`), as the HTTP conventions ask.
 */
export function httpMetrics(options: HttpMetricsOptions = {}): MiddlewareHandler {
  const ignore = new Set(options.ignore ?? DEFAULT_IGNORE);
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = counter({
    name: 'http_server_requests_total',
    help: 'HTTP requests answered, by method, route template and status.',
    labelNames,
  });
  const duration = histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route template and status; exemplars carry the trace id.',
    labelNames,
    buckets: LATENCY_BUCKETS,
  });
  return async function httpMetricsMiddleware(c, next) {
    if (ignore.has(c.req.path)) return next();
    const started = performance.now();
    await next();
    const matched = routePath(c);
    // A request no route took (404) is one series, whatever its path.
    const route = c.res.status === 404 && (matched === '*' || matched === '/*') ? 'unmatched' : matched;
    const labels = { method: c.req.method, route, status: String(c.res.status) };
    requests.inc(labels);
    observe(duration, labels, (performance.now() - started) / 1000);
    const span = trace.getActiveSpan();
    if (span?.isRecording()) {
      span.updateName(`${c.req.method} ${route}`);
      span.setAttribute('http.route', route);
    }
  };
}
