import { NotFoundError, pathId, type Routes, routes, type ServiceDeps } from '@jetsaga/platform';
import { z } from 'zod';
import { selectEvents } from '../events/stored.js';
import { mermaid, timeline } from './timeline.js';

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

export function sagaRoutes({ db }: Pick<ServiceDeps, 'db'>): Routes {
  return routes().add({
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
