import { type Db, type NatsConnection, type Routes, routes } from '@jetsaga/platform';
import { z } from 'zod';
import type { ProjectionEngine } from '../projections/engine.js';
import { mirrorStatusSchema, projectionStatusSchema, verificationSchema } from '../schemas.js';
import type { Mirror } from './mirror.js';
import { verifyMirror } from './verify.js';

const verifyQuery = z.strictObject({
  fromPosition: z.coerce.number().int().min(1).optional(),
  toPosition: z.coerce.number().int().min(1).optional(),
});

/** The mirror's status, its reconciliation with the stream, and its reset. */
export function mirrorRoutes(
  deps: { db: Db; nc: NatsConnection },
  { mirror, engine }: { mirror: Mirror; engine: ProjectionEngine },
): Routes {
  return routes()
    .add({
      method: 'get',
      path: '/api/event-store/status',
      summary: "The mirror's position and lag behind the EVENTS stream, and every projection's",
      tags: ['event-store'],
      roles: ['agent', 'admin'],
      responses: {
        200: {
          description: 'The status',
          schema: z.object({ mirror: mirrorStatusSchema, projections: z.array(projectionStatusSchema) }),
        },
      },
      handler: async (c) => {
        return c.json({ mirror: await mirror.status(), projections: await engine.status() });
      },
    })
    .add({
      method: 'get',
      path: '/api/event-store/verify',
      summary: 'Reconcile the mirror with the stream over a range of positions: counts, hashes, missing and extra',
      tags: ['event-store'],
      roles: ['agent', 'admin'],
      query: verifyQuery,
      responses: { 200: { description: 'The reconciliation', schema: verificationSchema } },
      handler: async (c, { query }) => c.json(await verifyMirror(deps.db, deps.nc, { from: query.fromPosition, to: query.toPosition })),
    })
    .add({
      method: 'post',
      path: '/api/event-store/mirror/reset',
      summary: 'Empty the mirror and copy the stream again from the first event',
      tags: ['event-store'],
      roles: ['admin'],
      responses: { 202: { description: 'The mirror, starting over', schema: mirrorStatusSchema } },
      handler: async (c) => {
        await mirror.reset();
        return c.json(await mirror.status(), 202);
      },
    });
}
