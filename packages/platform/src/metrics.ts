import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import {
  collectDefaultMetrics,
  Counter,
  type CounterConfiguration,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type OpenMetricsContentType,
  Registry,
} from 'prom-client';
import type { Logger } from './log.js';

/**
 * Prometheus metrics of one process: one registry, exposed in the OpenMetrics format (the format that carries
 * exemplars) on a port of its own named `metrics`. Declare instruments with `counter`, `gauge` and `histogram`:
 * declaring the same name twice returns the first instrument, so modules and tests that run several components in
 * one process can declare what they use where they use it. Names follow the Prometheus conventions (base unit in the
 * name, `_total` for counters); every metric is listed in docs/metrics.md.
 *
 * ```ts
 * import { counter } from '@jetsaga/platform';
 * const stored = counter({ name: 'event_store_events_total', help: 'Events mirrored', labelNames: ['event_type', 'source'] });
 * stored.inc({ event_type: 'OrderPlaced', source: 'order' });
 * ```
 */
export type MetricsRegistry = Registry<OpenMetricsContentType>;

let registry: MetricsRegistry | undefined;

export function metricsRegistry(): MetricsRegistry {
  if (!registry) {
    registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  }
  return registry;
}

function declared<M>(name: string): M | undefined {
  return metricsRegistry().getSingleMetric(name) as M | undefined;
}

export function counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  return declared<Counter<L>>(config.name) ?? new Counter({ ...config, registers: [metricsRegistry()] });
}

export function gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  return declared<Gauge<L>>(config.name) ?? new Gauge({ ...config, registers: [metricsRegistry()] });
}

/** Histograms keep exemplars: an observation made inside a recorded span carries its trace id. */
export function histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
  return declared<Histogram<L>>(config.name) ?? new Histogram({ enableExemplars: true, ...config, registers: [metricsRegistry()] });
}

/** The exemplar of the current span (empty without one): `{ trace_id, span_id }`. */
export function traceExemplar(traceId?: string): Record<string, string> {
  if (traceId) return { trace_id: traceId };
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return {};
  const { traceId: id, spanId } = span.spanContext();
  return { trace_id: id, span_id: spanId };
}

/** Observes a value with the current trace as exemplar (or the given trace id, for work measured after the fact). */
export function observe<L extends string>(
  instrument: Histogram<L>,
  labels: Partial<Record<L, string | number>>,
  value: number,
  traceId?: string,
): void {
  // prom-client types exemplar labels as the metric's own label names; they are not (trace_id, span_id).
  instrument.observe({ labels, value, exemplarLabels: traceExemplar(traceId) as Partial<Record<L, string>> });
}

/**
 * A read shared by the gauges of one scrape: prom-client collects them concurrently, so those that report the same
 * query or request await one round trip, and the next scrape reads afresh.
 */
export function sharedRead<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () =>
    (inFlight ??= read().finally(() => {
      inFlight = undefined;
    }));
}

/** Buckets for work measured in milliseconds to tens of seconds (handlers, relays, requests, sagas). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

let processMetrics = false;

/**
 * Labels every metric of the process with the service it belongs to (`app`: a ServiceMonitor adds its own `service`
 * label, naming the Kubernetes Service, so that name is left to it) and adds Node's process metrics once.
 */
export function initMetrics(app: string): MetricsRegistry {
  const reg = metricsRegistry();
  reg.setDefaultLabels({ app });
  if (!processMetrics) {
    processMetrics = true;
    collectDefaultMetrics({ register: reg });
  }
  return reg;
}

export type MetricsServer = { port: number; url: string; close(): Promise<void> };

/** Serves `GET /metrics` on its own port (0: any free port, reported back and logged). */
export function startMetricsServer(options: { port: number; host: string; log?: Logger }): Promise<MetricsServer> {
  const reg = metricsRegistry();
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at /metrics\n');
      return;
    }
    reg.metrics().then(
      (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
      (error: unknown) => {
        options.log?.error({ err: error }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      const { port } = server.address() as AddressInfo;
      const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/metrics`;
      options.log?.info({ metricsPort: port, metricsUrl: url }, 'metrics listening');
      resolve({
        port,
        url,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
