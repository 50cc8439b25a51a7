import { type Routes, routes, type ServiceDeps } from '@jetsaga/platform';
import { z } from 'zod';

const summarySchema = z.object({ count: z.number().int(), totalCents: z.number().int() });

export function salesRoutes({ db }: Pick<ServiceDeps, 'db'>): Routes {
  return routes().add({
    method: 'get',
    path: '/api/sales/summary',
    summary: 'Totals of confirmed sales: what the books say was sold',
    tags: ['sales'],
    roles: ['agent', 'admin'],
    responses: { 200: { description: 'How many sales, and their total', schema: summarySchema } },
    handler: async (c) => {
      const { rows } = await db.query<{ count: number; total_cents: number }>(
        "SELECT count(*)::int AS count, coalesce(sum(total_cents), 0)::bigint AS total_cents FROM sales WHERE status = 'CONFIRMED'",
      );
      return c.json({ count: rows[0]?.count ?? 0, totalCents: rows[0]?.total_cents ?? 0 });
    },
  });
}
