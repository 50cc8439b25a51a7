import { assertOwner, NotFoundError, pathId, type Routes, routes, type ServiceDeps, ValidationError } from '@jetsaga/platform';
import { z } from 'zod';
import { TEMPLATES } from './templates.js';

const STATUSES = ['PENDING', 'SENT', 'FAILED', 'SUPPRESSED'] as const;

const notificationSchema = z.object({
  id: z.uuid(),
  status: z.enum(STATUSES),
  template: z.enum(TEMPLATES),
  locale: z.string(),
  to: z.string().meta({ description: 'the address it went to; "[erased]" once the customer was erased' }),
  subject: z.string(),
  customerId: z.uuid().nullable(),
  orderId: z.uuid().nullable(),
  sourceEventId: z.uuid(),
  sourceEventType: z.string(),
  messageId: z.string().meta({ description: 'the Message-ID header, the same on every attempt' }),
  reason: z.string().nullable().meta({ description: 'why it was SUPPRESSED (OPTED_OUT, NO_RECIPIENT)' }),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
});

type Row = {
  id: string;
  status: (typeof STATUSES)[number];
  template: (typeof TEMPLATES)[number];
  locale: string;
  to_address: string;
  subject: string;
  customer_id: string | null;
  order_id: string | null;
  source_event_id: string;
  source_event_type: string;
  message_id: string;
  reason: string | null;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  sent_at: Date | null;
};

const COLUMNS =
  'id, status, template, locale, to_address, subject, customer_id, order_id, source_event_id, source_event_type, message_id, reason, attempts, last_error, created_at, sent_at';

function view(row: Row): z.infer<typeof notificationSchema> {
  return {
    id: row.id,
    status: row.status,
    template: row.template,
    locale: row.locale,
    to: row.to_address,
    subject: row.subject,
    customerId: row.customer_id,
    orderId: row.order_id,
    sourceEventId: row.source_event_id,
    sourceEventType: row.source_event_type,
    messageId: row.message_id,
    reason: row.reason,
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: row.created_at.toISOString(),
    sentAt: row.sent_at?.toISOString() ?? null,
  };
}

const listQuery = z.strictObject({
  customerId: z.uuid().optional(),
  orderId: z.uuid().optional(),
  status: z.enum(STATUSES).optional(),
  after: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

type Cursor = { t: string; i: string };

function encodeCursor(row: Row): string {
  return Buffer.from(JSON.stringify({ t: row.created_at.toISOString(), i: row.id } satisfies Cursor)).toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (
      typeof parsed.t === 'string' &&
      !Number.isNaN(Date.parse(parsed.t)) &&
      typeof parsed.i === 'string' &&
      /^[0-9a-f-]{36}$/.test(parsed.i)
    ) {
      return { t: parsed.t, i: parsed.i };
    }
  } catch {
    // reported below
  }
  throw new ValidationError('the cursor is not one this API returned', [{ field: 'after', reason: 'invalid cursor' }]);
}

const preferencesSchema = z.object({ customerId: z.uuid(), email: z.boolean(), updatedAt: z.string().nullable() });
const preferencesBody = z.strictObject({ email: z.boolean() });
const idParams = z.object({ id: pathId() });

export function notificationRoutes(deps: Pick<ServiceDeps, 'db'>): Routes {
  const { db } = deps;
  return routes()
    .add({
      method: 'get',
      path: '/api/notifications',
      summary: 'Notifications, oldest first, in pages (filter by customer, order or status)',
      tags: ['notifications'],
      roles: ['customer', 'agent', 'admin'],
      ownership: 'A customer lists only their own notifications.',
      query: listQuery,
      responses: {
        200: {
          description: 'A page of notifications; `next` is the cursor of the following page (null on the last)',
          schema: z.object({ notifications: z.array(notificationSchema), next: z.string().nullable() }),
        },
      },
      handler: async (c, { query, principal }) => {
        if (principal.role === 'customer' && query.customerId) assertOwner(principal, query.customerId, 'these notifications');
        const customerId = principal.role === 'customer' ? principal.subject : query.customerId;
        const params: unknown[] = [];
        const where: string[] = [];
        if (customerId) where.push(`customer_id = $${params.push(customerId)}`);
        if (query.orderId) where.push(`order_id = $${params.push(query.orderId)}`);
        if (query.status) where.push(`status = $${params.push(query.status)}`);
        if (query.after) {
          const cursor = decodeCursor(query.after);
          where.push(`(created_at, id) > ($${params.push(cursor.t)}::timestamptz, $${params.push(cursor.i)}::uuid)`);
        }
        const { rows } = await db.query<Row>(
          `SELECT ${COLUMNS} FROM notifications ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY created_at, id LIMIT $${params.push(query.limit + 1)}`,
          params,
        );
        const page = rows.slice(0, query.limit);
        const last = page[page.length - 1];
        return c.json({ notifications: page.map(view), next: rows.length > query.limit && last ? encodeCursor(last) : null });
      },
    })
    .add({
      method: 'get',
      path: '/api/notifications/:id',
      summary: 'A notification: status (SENT, FAILED, SUPPRESSED, PENDING), template, address, subject, when it was sent',
      tags: ['notifications'],
      roles: ['customer', 'agent', 'admin'],
      ownership: "A customer reads only their own; on-call alerts (no customer) are agents' and admins'.",
      params: idParams,
      responses: { 200: { description: 'The notification', schema: notificationSchema } },
      problems: { 404: 'no such notification' },
      handler: async (c, { params, principal }) => {
        const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM notifications WHERE id = $1`, [params.id]);
        const row = rows[0];
        if (!row) throw new NotFoundError(`notification ${params.id} does not exist`);
        if (principal.role === 'customer' && !row.customer_id) throw new NotFoundError(`notification ${params.id} does not exist`);
        if (row.customer_id) assertOwner(principal, row.customer_id, `notification ${params.id}`);
        return c.json(view(row));
      },
    })
    .add({
      method: 'get',
      path: '/api/customers/:id/notification-preferences',
      summary: "A customer's email preference (true unless they opted out)",
      tags: ['notifications'],
      roles: ['customer', 'admin'],
      ownership: 'A customer reads only their own.',
      params: idParams,
      responses: { 200: { description: 'The preference', schema: preferencesSchema } },
      handler: async (c, { params, principal }) => {
        assertOwner(principal, params.id, `the preferences of customer ${params.id}`);
        const { rows } = await db.query<{ email: boolean; updated_at: Date }>(
          'SELECT email, updated_at FROM preferences WHERE customer_id = $1',
          [params.id],
        );
        return c.json({ customerId: params.id, email: rows[0]?.email ?? true, updatedAt: rows[0]?.updated_at.toISOString() ?? null });
      },
    })
    .add({
      method: 'put',
      path: '/api/customers/:id/notification-preferences',
      summary: 'Opt in or out of email: an opted-out customer gets nothing (their notifications are recorded SUPPRESSED)',
      tags: ['notifications'],
      roles: ['customer', 'admin'],
      ownership: 'A customer sets only their own.',
      params: idParams,
      body: preferencesBody,
      responses: { 200: { description: 'The preference, as stored', schema: preferencesSchema } },
      handler: async (c, { params, body, principal }) => {
        assertOwner(principal, params.id, `the preferences of customer ${params.id}`);
        const { rows } = await db.query<{ email: boolean; updated_at: Date }>(
          `INSERT INTO preferences (customer_id, email) VALUES ($1, $2)
           ON CONFLICT (customer_id) DO UPDATE SET email = EXCLUDED.email, updated_at = now() RETURNING email, updated_at`,
          [params.id, body.email],
        );
        return c.json({ customerId: params.id, email: rows[0]!.email, updatedAt: rows[0]!.updated_at.toISOString() });
      },
    });
}
