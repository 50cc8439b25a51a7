import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { onTelemetryStop } from './telemetry.js';

/** Requests that are not traffic: probes and scrapes would otherwise be most of the traces. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

let sdk: NodeSDK | undefined;

/**
 * Starts the SDK: traces only (metrics are Prometheus', logs go to stdout as JSON), exporter and sampler from the
 * standard variables. HTTP (server and client), fetch, pg and pino are instrumented; queries and outgoing requests
 * outside any trace (pollers, probes) make no spans of their own.
 */
export function startTelemetry(env: NodeJS.ProcessEnv): void {
  if (sdk) return;
  // The SDK would otherwise also export metrics and logs over OTLP by default.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.namespace': 'jetsaga' }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? ''),
        requireParentforOutgoingSpans: true,
      }),
      new UndiciInstrumentation({ requireParentforSpans: true }),
      // Pool check-outs add a span per transaction and say nothing the query spans do not.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      // Log lines get trace_id and span_id; the lines themselves stay on stdout.
      new PinoInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();
  const running = sdk;
  onTelemetryStop(() => running.shutdown());
}
