import { isUuid } from '@jetsaga/events';
import { assertOwner, type Routes, routes, type ServiceDeps, ValidationError } from '@jetsaga/platform';
import { z } from 'zod';
import { nextCursor, projectionStatusSchema } from '../schemas.js';
import type { ProjectionEngine } from './engine.js';
import { SHIPMENT_STATUS } from './shipping.js';

const ordersQuery = z.strictObject({
  status: z.enum(['PENDING', 'COMPLETED', 'CANCELLED']).optional(),
  customerId: z.uuid().optional(),
  correlationId: z
    .uuid()
    .optional()
    .meta({ description: "the order of one saga (the gateway's event stream checks a customer's with it)" }),
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const date = z.iso.date('a date YYYY-MM-DD').refine((day) => !day.startsWith('0000'), 'a date YYYY-MM-DD from year 1');
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

const orderSummarySchema = z.object({
  id: z.uuid(),
  customerId: z.uuid(),
  status: z.enum(['PENDING', 'COMPLETED', 'CANCELLED']),
  reason: z.string().optional(),
  totalCents: z.number().int(),
  lineCount: z.number().int(),
  correlationId: z.uuid(),
  placedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});
const sagaSummarySchema = z.object({
  correlationId: z.uuid(),
  orderId: z.uuid().nullable(),
  customerId: z.uuid().nullable(),
  outcome: z.enum(['PENDING', 'COMPLETED', 'CANCELLED']),
  reason: z.string().optional(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  durationMs: z.number().int().nullable(),
  steps: z.number().int(),
  lastType: z.string(),
});
const salesReportSchema = z.object({
  from: z.string().nullable(),
  to: z.string().nullable(),
  days: z.array(
    z.object({
      day: z.string(),
      productId: z.uuid(),
      quantity: z.number().int(),
      revenueCents: z.number().int(),
      orders: z.number().int(),
    }),
  ),
  totals: z.object({ quantity: z.number().int(), revenueCents: z.number().int() }),
});
const stockReportSchema = z.object({
  products: z.array(
    z.object({
      productId: z.uuid(),
      sku: z.string(),
      name: z.string(),
      priceCents: z.number().int(),
      available: z.number().int(),
      reserved: z.number().int(),
      sold: z.number().int(),
    }),
  ),
});
const SHIPMENT_STATUSES = ['CREATED', 'DISPATCHED', 'DELIVERED', 'INCIDENT', 'REPLACED', 'REFUNDED', 'CANCELLED'] as const;
const shipmentsReportSchema = z.object({
  byStatus: z.record(z.enum(SHIPMENT_STATUSES), z.number().int()).meta({ description: 'parcels in each status (0 when none)' }),
  total: z.number().int(),
  incidents: z.number().int().meta({ description: 'incidents reported, all parcels together' }),
  refundedCents: z.number().int().meta({ description: 'what payment gave back for parcels' }),
});

const refundDaySchema = z.object({
  day: z.string(),
  requested: z.number().int(),
  requestedCents: z.number().int(),
  refunded: z.number().int(),
  refundedCents: z.number().int(),
  rejected: z.number().int(),
  rejectedCents: z.number().int(),
  cancellations: z.number().int().meta({ description: "the saga's own refunds of cancelled orders" }),
  cancellationCents: z.number().int(),
});
const refundsReportSchema = z.object({
  from: z.string().nullable(),
  to: z.string().nullable(),
  days: z.array(refundDaySchema),
  totals: refundDaySchema.omit({ day: true }),
});
const COMPLAINT_STATUSES = ['OPEN', 'ASSIGNED', 'IN_PROGRESS', 'RESOLVED', 'CLOSED'] as const;
const complaintsReportSchema = z.object({
  byStatus: z.record(z.enum(COMPLAINT_STATUSES), z.number().int()).meta({ description: 'complaints in each status (0 when none)' }),
  byPriority: z.record(z.string(), z.number().int()),
  total: z.number().int(),
  automatic: z.number().int().meta({ description: 'opened by a LOST or DAMAGED incident' }),
  escalated: z.number().int().meta({ description: 'complaints that passed a response deadline' }),
  refunds: z.object({
    requested: z.number().int(),
    refunded: z.number().int(),
    rejected: z.number().int(),
    refundedCents: z.number().int(),
  }),
});

const projectionName = z.object({ name: z.string().min(1).max(100) });
const OPERATIONS = ['agent', 'admin'] as const;

/** The read side: answered from projection tables, never from the services' own tables. */
export function readModelRoutes({ db }: Pick<ServiceDeps, 'db'>, engine: ProjectionEngine): Routes {
  return routes()
    .add({
      method: 'get',
      path: '/api/orders',
      summary: 'Orders (the order-summaries read model), filtered and paged',
      tags: ['orders'],
      roles: ['customer', 'agent', 'admin'],
      ownership: "A customer's list holds only their own orders; asking for another customer's is a 403.",
      query: ordersQuery,
      responses: { 200: { description: 'A page of orders', schema: z.object({ orders: z.array(orderSummarySchema), next: nextCursor }) } },
      handler: async (c, { query, principal }) => {
        const table = await engine.liveTable('order-summaries', 'orders');
        const params: unknown[] = [];
        const where: string[] = [];
        if (query.status) where.push(`status = $${params.push(query.status)}`);
        if (query.correlationId) where.push(`correlation_id = $${params.push(query.correlationId)}`);
        // A customer's list is their own orders only.
        if (principal.role === 'customer') assertOwner(principal, query.customerId ?? principal.subject, 'this order list');
        const customerId = principal.role === 'customer' ? principal.subject.toLowerCase() : query.customerId;
        // A customer whose subject is no customer id has no orders (and the uuid column would refuse the value).
        if (customerId) where.push(isUuid(customerId) ? `customer_id = $${params.push(customerId)}` : 'false');
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
      },
    })
    .add({
      method: 'get',
      path: '/api/reports/sales',
      summary: 'Sales per day and product (the sales-daily read model)',
      tags: ['reports'],
      roles: OPERATIONS,
      query: salesQuery,
      responses: { 200: { description: 'The days in range, and their totals', schema: salesReportSchema } },
      handler: async (c, { query }) => {
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
          totals: days.reduce(
            (sum, row) => ({ quantity: sum.quantity + row.quantity, revenueCents: sum.revenueCents + row.revenueCents }),
            {
              quantity: 0,
              revenueCents: 0,
            },
          ),
        });
      },
    })
    .add({
      method: 'get',
      path: '/api/reports/shipments',
      summary: 'Parcels by status, incidents and refunds (the shipments-by-status read model)',
      tags: ['reports'],
      roles: OPERATIONS,
      responses: { 200: { description: 'Counts over every parcel', schema: shipmentsReportSchema } },
      handler: async (c) => {
        const table = await engine.liveTable('shipments-by-status', 'shipments');
        const { rows } = await db.query<{ status: (typeof SHIPMENT_STATUSES)[number]; count: number; incidents: number; refunded: string }>(
          `SELECT ${SHIPMENT_STATUS} AS status, count(*)::int AS count, sum(incidents)::int AS incidents, sum(refunded_cents)::text AS refunded
           FROM ${table} GROUP BY 1`,
        );
        const byStatus = Object.fromEntries(
          SHIPMENT_STATUSES.map((status) => [status, rows.find((row) => row.status === status)?.count ?? 0]),
        );
        return c.json({
          byStatus,
          total: rows.reduce((sum, row) => sum + row.count, 0),
          incidents: rows.reduce((sum, row) => sum + row.incidents, 0),
          refundedCents: rows.reduce((sum, row) => sum + Number(row.refunded), 0),
        });
      },
    })
    .add({
      method: 'get',
      path: '/api/reports/refunds',
      summary: 'Refunds per day: requested, refunded, rejected, and refunds of cancelled orders (the refunds-daily read model)',
      tags: ['reports'],
      roles: OPERATIONS,
      query: salesQuery,
      responses: { 200: { description: 'The days in range, and their totals', schema: refundsReportSchema } },
      handler: async (c, { query }) => {
        const table = await engine.liveTable('refunds-daily', 'refunds');
        const { rows } = await db.query<Record<string, string>>(
          `SELECT to_char(day, 'YYYY-MM-DD') AS day, requested::text, requested_cents::text, refunded::text, refunded_cents::text,
                  rejected::text, rejected_cents::text, cancellations::text, cancellation_cents::text
           FROM ${table} WHERE ($1::date IS NULL OR day >= $1::date) AND ($2::date IS NULL OR day <= $2::date) ORDER BY day`,
          [query.from ?? null, query.to ?? null],
        );
        const counts = (row: Record<string, string>) => ({
          requested: Number(row.requested ?? 0),
          requestedCents: Number(row.requested_cents ?? 0),
          refunded: Number(row.refunded ?? 0),
          refundedCents: Number(row.refunded_cents ?? 0),
          rejected: Number(row.rejected ?? 0),
          rejectedCents: Number(row.rejected_cents ?? 0),
          cancellations: Number(row.cancellations ?? 0),
          cancellationCents: Number(row.cancellation_cents ?? 0),
        });
        const days = rows.map((row) => ({ day: String(row.day), ...counts(row) }));
        const totals = counts({});
        for (const { day: _day, ...row } of days) for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += row[key];
        return c.json({ from: query.from ?? null, to: query.to ?? null, days, totals });
      },
    })
    .add({
      method: 'get',
      path: '/api/reports/complaints',
      summary: 'Complaints by status and priority, escalations and their refunds (the complaint-views read model)',
      tags: ['reports'],
      roles: OPERATIONS,
      responses: { 200: { description: 'Counts over every complaint', schema: complaintsReportSchema } },
      handler: async (c) => {
        const table = await engine.liveTable('complaint-views', 'complaints');
        const { rows } = await db.query<{
          status: string | null;
          priority: string | null;
          count: number;
          automatic: number;
          escalated: number;
          requested: number;
          refunded: number;
          rejected: number;
          refunded_cents: string | null;
        }>(
          `SELECT status, priority, count(*)::int AS count, count(*) FILTER (WHERE automatic)::int AS automatic,
                  count(*) FILTER (WHERE escalation IS NOT NULL)::int AS escalated,
                  count(refund_id)::int AS requested, count(*) FILTER (WHERE refund_status = 'REFUNDED')::int AS refunded,
                  count(*) FILTER (WHERE refund_status = 'REJECTED')::int AS rejected,
                  sum(refund_cents) FILTER (WHERE refund_status = 'REFUNDED')::text AS refunded_cents
           FROM ${table} WHERE status IS NOT NULL GROUP BY status, priority`,
        );
        const sum = (pick: (row: (typeof rows)[number]) => number) => rows.reduce((total, row) => total + pick(row), 0);
        const byPriority: Record<string, number> = {};
        for (const row of rows) if (row.priority) byPriority[row.priority] = (byPriority[row.priority] ?? 0) + row.count;
        return c.json({
          byStatus: Object.fromEntries(COMPLAINT_STATUSES.map((status) => [status, sum((row) => (row.status === status ? row.count : 0))])),
          byPriority,
          total: sum((row) => row.count),
          automatic: sum((row) => row.automatic),
          escalated: sum((row) => row.escalated),
          refunds: {
            requested: sum((row) => row.requested),
            refunded: sum((row) => row.refunded),
            rejected: sum((row) => row.rejected),
            refundedCents: sum((row) => Number(row.refunded_cents ?? 0)),
          },
        });
      },
    })
    .add({
      method: 'get',
      path: '/api/reports/stock',
      summary: 'Stock per product: available, reserved, sold (the stock-levels read model)',
      tags: ['reports'],
      roles: OPERATIONS,
      responses: { 200: { description: 'Every product', schema: stockReportSchema } },
      handler: async (c) => {
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
      },
    })
    .add({
      method: 'get',
      path: '/api/sagas',
      summary: 'Sagas (the saga-timelines read model), filtered by outcome and paged',
      tags: ['sagas'],
      roles: OPERATIONS,
      query: sagasQuery,
      responses: { 200: { description: 'A page of sagas', schema: z.object({ sagas: z.array(sagaSummarySchema), next: nextCursor }) } },
      handler: async (c, { query }) => {
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
      },
    })
    .add({
      method: 'get',
      path: '/api/projections',
      summary: 'Every projection version that is not retired: state, position, lag',
      tags: ['projections'],
      roles: OPERATIONS,
      responses: { 200: { description: 'The projections', schema: z.object({ projections: z.array(projectionStatusSchema) }) } },
      handler: async (c) => c.json({ projections: await engine.status() }),
    })
    .add({
      method: 'get',
      path: '/api/projections/:name/checksum',
      summary: "A digest of a projection version's rows (the live one by default): equal rows, equal digests",
      tags: ['projections'],
      roles: OPERATIONS,
      params: projectionName,
      query: z.strictObject({ version: z.coerce.number().int().min(1).optional() }),
      responses: {
        200: {
          description: 'The digest',
          schema: z.object({ name: z.string(), version: z.number().int(), rows: z.number().int(), checksum: z.string() }),
        },
      },
      problems: { 404: 'no such projection or version' },
      handler: async (c, { params, query }) => c.json(await engine.checksum(params.name, query.version)),
    })
    .add({
      method: 'post',
      path: '/api/projections/:name/rebuild',
      summary: 'Rebuild a projection from the first event as a new version beside the live one (blue-green)',
      tags: ['projections'],
      roles: ['admin'],
      params: projectionName,
      body: z.strictObject({ version: z.number().int().min(1).optional() }),
      bodyOptional: true,
      responses: { 202: { description: 'The new version, building', schema: projectionStatusSchema } },
      problems: { 404: 'no such projection', 409: 'a rebuild is running, or the version is not newer' },
      handler: async (c, { params, body }) => {
        engine.definition(params.name);
        const status = await engine.rebuild(params.name, body.version);
        c.header('Location', `/api/projections`);
        return c.json(status, 202);
      },
    });
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
