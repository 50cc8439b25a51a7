import { EVENTS_STREAM } from '@jetsaga/events';
import { HttpError, type NatsConnection } from '@jetsaga/platform';
import { jetstreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { byStart, normalizeTrace, type TraceBackend, traceIdOf, type TraceSpan } from './trace.js';

/**
 * Where the saga's spans are read back from: Jaeger's query API locally, Tempo's on a cluster (the umbrella chart's
 * observability profile sets both). Unset TRACE_QUERY_URL: tracing is off here, and the trace API says so (503).
 */
export const TRACE_CONFIG = z.object({
  TRACE_BACKEND: z.enum(['jaeger', 'tempo']).default('jaeger'),
  TRACE_QUERY_URL: z.url().optional(),
  TRACE_QUERY_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
});
export type TraceConfig = z.infer<typeof TRACE_CONFIG>;

export class TracingDisabledError extends HttpError {
  override name = 'TracingDisabledError';
  constructor() {
    super(
      503,
      'Tracing disabled',
      'no trace backend is configured for the event store (TRACE_QUERY_URL); the saga timeline is at /api/sagas/{correlationId}',
    );
  }
}

export class TraceBackendUnreachableError extends HttpError {
  override name = 'TraceBackendUnreachableError';
  constructor(backend: TraceBackend, detail: string, options?: ErrorOptions) {
    super(502, 'Trace backend unreachable', `the ${backend} query API did not answer: ${detail}`, [], options);
  }
}

/** The path of one trace on the backend: both answer `/api/traces/<id>`, in their own JSON. */
export function traceUrl(config: Pick<TraceConfig, 'TRACE_BACKEND' | 'TRACE_QUERY_URL'>, traceId: string): string {
  return new URL(`/api/traces/${traceId}`, config.TRACE_QUERY_URL).toString();
}

/** One trace's spans, or undefined when the backend does not know it (not there yet, or aged out). */
export async function fetchTrace(config: TraceConfig, traceId: string): Promise<TraceSpan[] | undefined> {
  if (!config.TRACE_QUERY_URL) throw new TracingDisabledError();
  let response: Response;
  try {
    response = await fetch(traceUrl(config, traceId), {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(config.TRACE_QUERY_TIMEOUT_MS),
    });
  } catch (error) {
    throw new TraceBackendUnreachableError(
      config.TRACE_BACKEND,
      error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error),
      { cause: error },
    );
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new TraceBackendUnreachableError(config.TRACE_BACKEND, `it answered ${response.status}`);
  }
  return normalizeTrace(config.TRACE_BACKEND, await response.json());
}

/**
 * The traces of a saga, in the order its events joined them: each event carries the W3C `traceparent` of the span that
 * published it in its NATS headers, so one saga is usually one trace, and more when a later step started a root of its
 * own (an agent's HTTP command, a deadline fired by the server). Read from the stream by sequence.
 */
export async function sagaTraceIds(nc: NatsConnection, positions: readonly number[]): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const parents = await Promise.all(
    positions.map(async (seq) => {
      const message = await jsm.streams.getMessage(EVENTS_STREAM, { seq }).catch(() => null);
      return message?.header?.get('traceparent') || undefined;
    }),
  );
  return [...new Set(parents.map(traceIdOf).filter((id): id is string => id !== undefined))];
}

/** Every span of every trace of the saga, by start time; the traces the backend does not know are left out. */
export async function sagaSpans(config: TraceConfig, traceIds: readonly string[]): Promise<{ found: string[]; spans: TraceSpan[] }> {
  const traces = await Promise.all(traceIds.map(async (id) => [id, await fetchTrace(config, id)] as const));
  const found = traces.filter(([, spans]) => spans !== undefined).map(([id]) => id);
  return { found, spans: traces.flatMap(([, spans]) => spans ?? []).sort(byStart) };
}
