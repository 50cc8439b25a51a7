import { NotFoundError, pathId, type Routes, routes, type ServiceDeps, ValidationError } from '@jetsaga/platform';
import { z } from 'zod';
import { nextCursor, storedEventSchema } from '../schemas.js';
import { selectEvents } from './stored.js';

/** Cursors are opaque to clients: base64url of the last position they saw. */
export function encodeCursor(position: number): string {
  return Buffer.from(JSON.stringify({ p: position })).toString('base64url');
}

export function decodeCursor(cursor: string, field = 'after'): number {
  try {
    const { p } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p: unknown };
    if (typeof p === 'number' && Number.isSafeInteger(p) && p >= 0) return p;
  } catch {
    // falls through to the validation error
  }
  throw new ValidationError('the cursor is not one this API returned', [{ field, reason: 'invalid cursor' }]);
}

const eventQuery = z.strictObject({
  type: z.string().min(1).max(100).optional(),
  aggregateType: z.string().min(1).max(100).optional(),
  aggregateId: z.string().min(1).max(200).optional(),
  correlationId: z.uuid().optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Events are operations data: they name every customer, so customers read their own records elsewhere. */
const OPERATIONS = ['agent', 'admin'] as const;

export function eventRoutes({ db }: Pick<ServiceDeps, 'db'>): Routes {
  return routes()
    .add({
      method: 'get',
      path: '/api/events',
      summary: 'Events of the mirror, in stream order, filtered and paged',
      tags: ['events'],
      roles: OPERATIONS,
      query: eventQuery,
      responses: { 200: { description: 'A page of events', schema: z.object({ events: z.array(storedEventSchema), next: nextCursor }) } },
      handler: async (c, { query }) => {
        const conditions: string[] = [];
        const params: unknown[] = [];
        const add = (sql: string, value: unknown) => {
          params.push(value);
          conditions.push(sql.replace('?', `$${params.length}`));
        };
        if (query.type) add('type = ?', query.type);
        if (query.aggregateType) add('aggregate_type = ?', query.aggregateType);
        if (query.aggregateId) add('aggregate_id = ?', query.aggregateId);
        if (query.correlationId) add('correlation_id = ?', query.correlationId);
        if (query.from) add('occurred_at >= ?', query.from);
        if (query.to) add('occurred_at < ?', query.to);
        if (query.after) add('position > ?', decodeCursor(query.after));
        params.push(query.limit + 1);
        const events = await selectEvents(
          db,
          conditions.length > 0 ? conditions.join(' AND ') : 'true',
          params,
          `ORDER BY position LIMIT $${params.length}`,
        );
        const page = events.slice(0, query.limit);
        const last = page[page.length - 1];
        return c.json({ events: page, next: events.length > query.limit && last ? encodeCursor(last.position) : null });
      },
    })
    .add({
      method: 'get',
      path: '/api/events/:id',
      summary: 'One event by its id',
      tags: ['events'],
      roles: OPERATIONS,
      params: z.object({ id: pathId() }),
      responses: { 200: { description: 'The event', schema: storedEventSchema } },
      problems: { 404: 'no such event' },
      handler: async (c, { params }) => {
        const [event] = await selectEvents(db, 'id = $1', [params.id], 'ORDER BY position LIMIT 1');
        if (!event) throw new NotFoundError(`event ${params.id} does not exist`);
        return c.json(event);
      },
    });
}
