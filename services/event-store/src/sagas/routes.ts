import { NotFoundError, readQuery, type ServiceDeps, uuidParam } from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import { selectEvents } from '../events/stored.js';
import { mermaid, timeline } from './timeline.js';

export function sagaRoutes({ db }: Pick<ServiceDeps, 'db'>): Hono {
  const app = new Hono();
  app.get('/api/sagas/:correlationId', async (c) => {
    const correlationId = uuidParam(c, 'correlationId', 'saga');
    const { format } = readQuery(c, z.strictObject({ format: z.enum(['json', 'mermaid']).default('json') }));
    const events = await selectEvents(db, 'correlation_id = $1', [correlationId]);
    const saga = timeline(correlationId, events);
    if (!saga) throw new NotFoundError(`no saga ${correlationId}`);
    if (format === 'mermaid') return c.text(mermaid(saga, events));
    return c.json(saga);
  });
  return app;
}
