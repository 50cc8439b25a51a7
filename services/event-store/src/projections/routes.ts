import { readJson, readQuery, type ServiceDeps, ValidationError } from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import type { ProjectionEngine } from './engine.js';

const ordersQuery = z.strictObject({
  status: z.enum(['PENDING', 'COMPLETED', 'CANCELLED']).optional(),
  customerId: z.uuid().optional(),
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD');
const salesQuery = z.strictObject({ from: date.optional(), to: date.optional() });
const sagasQuery = z.strictObject({
  outcome: z.enum(['PENDING', 'COMPLETED', 'CANCELLED']).optional(),
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

type OrderRow = {
  order_id: string;
  customer_id: string;
  status: string;
  reason: string | null;
  total_cents: number;
  line_count: number;
  correlation_id: string;
  placed_at: Date | null;
  ended_at: Date | null;
  seq: number;
};

/** The read side: answered from projection tables, never from the services' own tables. */
export function readModelRoutes({ db }: Pick<ServiceDeps, 'db'>, engine: ProjectionEngine): Hono {
  const app = new Hono();

  app.get('/api/orders', async (c) => {
    const query = readQuery(c, ordersQuery);
    const table = await engine.liveTable('order-summaries', 'orders');
    const params: unknown[] = [];
    const where: string[] = [];
    if (query.status) where.push(`status = $${params.push(query.status)}`);
    if (query.customerId) where.push(`customer_id = $${params.push(query.customerId)}`);
    if (query.after) where.push(`order_id > $${params.push(decodeOrderCursor(query.after))}`);
    const { rows } = await db.query<OrderRow>(
      `SELECT * FROM ${table} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY order_id LIMIT $${params.push(query.limit + 1)}`,
      params,
    );
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return c.json({
      orders: page.map((row) => ({
        id: row.order_id,
        customerId: row.customer_id,
        status: row.status,
        ...(row.reason ? { reason: row.reason } : {}),
        totalCents: row.total_cents,
        lineCount: row.line_count,
        correlationId: row.correlation_id,
        placedAt: row.placed_at?.toISOString() ?? null,
        endedAt: row.ended_at?.toISOString() ?? null,
      })),
      next: rows.length > query.limit && last ? Buffer.from(JSON.stringify({ o: last.order_id })).toString('base64url') : null,
    });
  });

  app.get('/api/reports/sales', async (c) => {
    const query = readQuery(c, salesQuery);
    const table = await engine.liveTable('sales-daily', 'sales');
    const { rows } = await db.query<{ day: string; product_id: string; quantity: number; revenue_cents: number; orders: number }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, product_id, quantity, revenue_cents, orders FROM ${table}
       WHERE ($1::date IS NULL OR day >= $1::date) AND ($2::date IS NULL OR day <= $2::date) ORDER BY day, product_id`,
      [query.from ?? null, query.to ?? null],
    );
    const days = rows.map((row) => ({
      day: row.day,
      productId: row.product_id,
      quantity: row.quantity,
      revenueCents: row.revenue_cents,
      orders: row.orders,
    }));
    return c.json({
      from: query.from ?? null,
      to: query.to ?? null,
      days,
      totals: days.reduce((sum, row) => ({ quantity: sum.quantity + row.quantity, revenueCents: sum.revenueCents + row.revenueCents }), {
        quantity: 0,
        revenueCents: 0,
      }),
    });
  });

  app.get('/api/reports/stock', async (c) => {
    const table = await engine.liveTable('stock-levels', 'stock');
    const { rows } = await db.query<{
      product_id: string;
      sku: string;
      name: string;
      price_cents: number;
      available: number;
      reserved: number;
      sold: number;
    }>(`SELECT * FROM ${table} ORDER BY product_id`);
    return c.json({
      products: rows.map((row) => ({
        productId: row.product_id,
        sku: row.sku,
        name: row.name,
        priceCents: row.price_cents,
        available: row.available,
        reserved: row.reserved,
        sold: row.sold,
      })),
    });
  });

  app.get('/api/sagas', async (c) => {
    const query = readQuery(c, sagasQuery);
    const table = await engine.liveTable('saga-timelines', 'sagas');
    const params: unknown[] = [];
    const where: string[] = [];
    if (query.outcome) where.push(`outcome = $${params.push(query.outcome)}`);
    if (query.after) where.push(`correlation_id > $${params.push(decodeOrderCursor(query.after))}`);
    const { rows } = await db.query<{
      correlation_id: string;
      order_id: string | null;
      customer_id: string | null;
      outcome: string | null;
      reason: string | null;
      started_at: Date | null;
      ended_at: Date | null;
      steps: number;
      last_type: string;
    }>(
      `SELECT * FROM ${table} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY correlation_id LIMIT $${params.push(query.limit + 1)}`,
      params,
    );
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return c.json({
      sagas: page.map((row) => ({
        correlationId: row.correlation_id,
        orderId: row.order_id,
        customerId: row.customer_id,
        outcome: row.outcome ?? 'PENDING',
        ...(row.reason ? { reason: row.reason } : {}),
        startedAt: row.started_at?.toISOString() ?? null,
        endedAt: row.ended_at?.toISOString() ?? null,
        durationMs: row.started_at && row.ended_at ? row.ended_at.getTime() - row.started_at.getTime() : null,
        steps: row.steps,
        lastType: row.last_type,
      })),
      next: rows.length > query.limit && last ? Buffer.from(JSON.stringify({ o: last.correlation_id })).toString('base64url') : null,
    });
  });

  app.get('/api/projections', async (c) => c.json({ projections: await engine.status() }));

  app.get('/api/projections/:name/checksum', async (c) => {
    const { version } = readQuery(c, z.strictObject({ version: z.coerce.number().int().min(1).optional() }));
    return c.json(await engine.checksum(c.req.param('name'), version));
  });

  app.post('/api/projections/:name/rebuild', async (c) => {
    const name = c.req.param('name');
    engine.definition(name);
    const hasBody = (c.req.header('content-length') ?? '0') !== '0';
    const body = hasBody ? await readJson(c, z.strictObject({ version: z.number().int().min(1).optional() })) : {};
    const status = await engine.rebuild(name, body.version);
    c.header('Location', `/api/projections`);
    return c.json(status, 202);
  });

  return app;
}

function decodeOrderCursor(cursor: string): string {
  try {
    const { o } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o: unknown };
    if (typeof o === 'string' && /^[0-9a-f-]{36}$/.test(o)) return o;
  } catch {
    // reported below
  }
  throw new ValidationError('the cursor is not one this API returned', [{ field: 'after', reason: 'invalid cursor' }]);
}
