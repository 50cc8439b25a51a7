import type { ServiceDeps } from '@jetsaga/platform';
import { Hono } from 'hono';

export function salesRoutes({ db }: ServiceDeps): Hono {
  const app = new Hono();
  /** Totals of confirmed sales: what the books say was sold. */
  app.get('/api/sales/summary', async (c) => {
    const { rows } = await db.query<{ count: number; total_cents: number }>(
      "SELECT count(*)::int AS count, coalesce(sum(total_cents), 0)::bigint AS total_cents FROM sales WHERE status = 'CONFIRMED'",
    );
    return c.json({ count: rows[0]?.count ?? 0, totalCents: rows[0]?.total_cents ?? 0 });
  });
  return app;
}
