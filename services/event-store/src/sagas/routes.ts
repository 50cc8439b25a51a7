import { assertOwner, loadConfig, NotFoundError, pathId, type Routes, routes, type ServiceDeps } from '@jetsaga/platform';
import { z } from 'zod';
import { selectEvents } from '../events/stored.js';
import { mermaid, timeline } from './timeline.js';
import { sagaSpans, sagaTraceIds, TRACE_CONFIG, TracingDisabledError } from './trace-query.js';

const attributes = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))]),
);
const spanSchema = z.object({
  spanId: z.string(),
  parentSpanId: z.string().nullable(),
  traceId: z.string(),
  service: z.string(),
  name: z.string(),
  kind: z.enum(['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER']),
  startTimeUnixNano: z.string(),
  endTimeUnixNano: z.string(),
  durationMs: z.number(),
  status: z.object({ code: z.enum(['UNSET', 'OK', 'ERROR']), message: z.string().optional() }),
  attributes,
  events: z
    .array(z.object({ name: z.string(), timeUnixNano: z.string(), attributes }))
    .meta({ description: 'span events; each log line written inside the span is one named `log` (level, msg, fields)' }),
});
const traceSchema = z.object({
  correlationId: z.uuid(),
  traceId: z.string().meta({ description: "the trace of the saga's first event" }),
  traceIds: z.array(z.string()).meta({ description: 'every trace the saga joined (a later command or a fired deadline may start one)' }),
  backend: z.enum(['jaeger', 'tempo']),
  spans: z.array(spanSchema).meta({ description: 'every span of those traces, by start time' }),
});

const sagaSchema = z.object({
  correlationId: z.uuid(),
  outcome: z.enum(['COMPLETED', 'CANCELLED', 'PENDING']),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  durationMs: z.number().int().nullable(),
  services: z.array(z.string()),
  steps: z.array(
    z.object({
      position: z.number().int(),
      type: z.string(),
      service: z.string(),
      phase: z.enum(['order', 'shipping', 'support']).meta({ description: 'the order saga, or what follows the sale' }),
      aggregateType: z.string(),
      aggregateId: z.string(),
      occurredAt: z.string(),
      causationId: z.string(),
      sinceStartMs: z.number().int(),
    }),
  ),
});

export function sagaRoutes({ db, nc, env }: Pick<ServiceDeps, 'db' | 'nc' | 'env'>): Routes {
  const traceConfig = loadConfig(TRACE_CONFIG, env);
  return routes()
    .add({
      method: 'get',
      path: '/api/sagas/:correlationId/trace',
      summary: "A saga's spans, from the trace backend, in one shape whichever backend answered",
      description:
        "Reads the trace ids from the saga's events (each carries its `traceparent`), asks the configured backend (Jaeger's or Tempo's query API, `TRACE_BACKEND`, `TRACE_QUERY_URL`) for each trace, and answers every span, normalized, by start time.",
      tags: ['sagas'],
      roles: ['customer', 'agent', 'admin'],
      ownership: "A customer reads only their own order's saga.",
      params: z.object({ correlationId: pathId() }),
      responses: { 200: { description: "The saga's spans", schema: traceSchema } },
      problems: {
        404: 'no saga with this correlation id, or the backend knows none of its traces',
        502: 'the trace backend did not answer (`trace-backend-unreachable`)',
        503: 'no trace backend configured (`tracing-disabled`)',
      },
      handler: async (c, { params, principal }) => {
        const { correlationId } = params;
        const events = await selectEvents(db, 'correlation_id = $1', [correlationId]);
        if (events.length === 0) throw new NotFoundError(`no saga ${correlationId}`);
        if (principal.role === 'customer') {
          const placed = events.find((event) => event.type === 'OrderPlaced');
          const customerId = (placed?.data as { customerId?: unknown } | undefined)?.customerId;
          assertOwner(principal, typeof customerId === 'string' ? customerId : '', `saga ${correlationId}`);
        }
        if (!traceConfig.TRACE_QUERY_URL) throw new TracingDisabledError();
        const traceIds = await sagaTraceIds(
          nc,
          events.map((event) => event.position),
        );
        if (traceIds.length === 0) throw new NotFoundError(`saga ${correlationId} has no traced events (tracing was off when it ran)`);
        const { found, spans } = await sagaSpans(traceConfig, traceIds);
        if (found.length === 0)
          throw new NotFoundError(`the ${traceConfig.TRACE_BACKEND} backend has none of the traces of saga ${correlationId}`);
        return c.json({ correlationId, traceId: found[0], traceIds: found, backend: traceConfig.TRACE_BACKEND, spans });
      },
    })
    .add({
      method: 'get',
      path: '/api/sagas/:correlationId',
      summary: "A saga's timeline, step by step, or as a Mermaid sequence diagram",
      tags: ['sagas'],
      roles: ['agent', 'admin'],
      params: z.object({ correlationId: pathId() }),
      query: z.strictObject({ format: z.enum(['json', 'mermaid']).default('json') }),
      responses: {
        200: { description: 'The timeline (JSON), or the diagram (`format=mermaid`, text/plain)', schema: sagaSchema },
      },
      problems: { 404: 'no saga with this correlation id' },
      handler: async (c, { params, query }) => {
        const { correlationId } = params;
        const events = await selectEvents(db, 'correlation_id = $1', [correlationId]);
        const saga = timeline(correlationId, events);
        if (!saga) throw new NotFoundError(`no saga ${correlationId}`);
        if (query.format === 'mermaid') return c.text(mermaid(saga, events));
        return c.json(saga);
      },
    });
}
