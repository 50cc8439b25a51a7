import type { Tx } from '@jetsaga/platform';
import type { Lookups, NotificationStatus, Recipient } from './notification.js';
import { localeOf, type Template } from './templates.js';

/** A notification as recorded (one row per (event, template, recipient); no bodies, only the subject). */
export type NotificationRow = {
  id: string;
  sourceEventId: string;
  sourceEventType: string;
  template: Template;
  locale: string;
  customerId: string | null;
  orderId: string | null;
  to: string;
  subject: string;
  messageId: string;
  status: NotificationStatus;
  reason: string | null;
};

/** The read models of orders and complaints an event batch needs, read once. */
export async function loadLookups(tx: Pick<Tx, 'query'>, orderIds: readonly string[], complaintIds: readonly string[]): Promise<Lookups> {
  const orders = new Map<string, { customerId: string; totalCents: number }>();
  const complaints = new Map<string, { customerId: string; orderId?: string; title: string }>();
  if (orderIds.length > 0) {
    const { rows } = await tx.query<{ order_id: string; customer_id: string; total_cents: number }>(
      'SELECT order_id, customer_id, total_cents FROM order_customers WHERE order_id = ANY($1::uuid[])',
      [orderIds],
    );
    for (const row of rows) orders.set(row.order_id, { customerId: row.customer_id, totalCents: row.total_cents });
  }
  if (complaintIds.length > 0) {
    const { rows } = await tx.query<{ complaint_id: string; customer_id: string; order_id: string | null; title: string }>(
      'SELECT complaint_id, customer_id, order_id, title FROM complaint_customers WHERE complaint_id = ANY($1::uuid[])',
      [complaintIds],
    );
    for (const row of rows)
      complaints.set(row.complaint_id, {
        customerId: row.customer_id,
        title: row.title,
        ...(row.order_id ? { orderId: row.order_id } : {}),
      });
  }
  return { order: (id) => orders.get(id), complaint: (id) => complaints.get(id) };
}

/** The customers' addresses and email preferences (absent preference: they want email). */
export async function loadRecipients(
  tx: Pick<Tx, 'query'>,
  customerIds: readonly string[],
): Promise<{ recipients: Map<string, Recipient>; wantsEmail: Map<string, boolean> }> {
  const recipients = new Map<string, Recipient>();
  const wantsEmail = new Map<string, boolean>();
  if (customerIds.length === 0) return { recipients, wantsEmail };
  const { rows } = await tx.query<{
    customer_id: string;
    name: string | null;
    email: string | null;
    locale: string | null;
    wants: boolean | null;
  }>(
    `SELECT v.id AS customer_id, r.name, r.email, r.locale, p.email AS wants
       FROM unnest($1::uuid[]) AS v(id)
       LEFT JOIN recipients r ON r.customer_id = v.id
       LEFT JOIN preferences p ON p.customer_id = v.id`,
    [customerIds],
  );
  for (const row of rows) {
    if (row.email !== null)
      recipients.set(row.customer_id, {
        customerId: row.customer_id,
        name: row.name ?? '',
        email: row.email,
        locale: localeOf(row.locale),
      });
    if (row.wants !== null) wantsEmail.set(row.customer_id, row.wants);
  }
  return { recipients, wantsEmail };
}

/** Records new notifications; one that exists (a redelivered event) is left as it is. */
export async function insertNotifications(tx: Pick<Tx, 'query'>, rows: readonly NotificationRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO notifications (id, source_event_id, source_event_type, template, locale, customer_id, order_id, to_address, subject, message_id, status, reason)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::uuid[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
     ON CONFLICT (id) DO NOTHING`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.sourceEventId),
      rows.map((r) => r.sourceEventType),
      rows.map((r) => r.template),
      rows.map((r) => r.locale),
      rows.map((r) => r.customerId),
      rows.map((r) => r.orderId),
      rows.map((r) => r.to),
      rows.map((r) => r.subject),
      rows.map((r) => r.messageId),
      rows.map((r) => r.status),
      rows.map((r) => r.reason),
    ],
  );
}

export type AttemptStart = { id: string; status: NotificationStatus; outcomeUnknown: boolean; attempts: number; to: string };

/**
 * Locks the rows and starts an attempt on each one that still needs sending: attempts + 1 and `outcome_unknown` set,
 * committed before any SMTP traffic, so that a process that dies during the send leaves that mark behind. Returns
 * every row as it was before (status, whether the previous attempt's outcome was unknown).
 */
export async function beginAttempts(tx: Pick<Tx, 'query'>, ids: readonly string[]): Promise<Map<string, AttemptStart>> {
  const found = new Map<string, AttemptStart>();
  if (ids.length === 0) return found;
  const { rows } = await tx.query<{
    id: string;
    status: NotificationStatus;
    outcome_unknown: boolean;
    attempts: number;
    to_address: string;
  }>('SELECT id, status, outcome_unknown, attempts, to_address FROM notifications WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [
    ids,
  ]);
  for (const row of rows)
    found.set(row.id, { id: row.id, status: row.status, outcomeUnknown: row.outcome_unknown, attempts: row.attempts, to: row.to_address });
  const sending = rows.filter((row) => row.status === 'PENDING' || row.status === 'FAILED').map((row) => row.id);
  if (sending.length > 0) {
    await tx.query(
      `UPDATE notifications SET attempts = attempts + 1, outcome_unknown = true, status = 'PENDING', updated_at = now() WHERE id = ANY($1::uuid[])`,
      [sending],
    );
  }
  return found;
}

/** A notification handed over (or found delivered by the look-up): SENT, once. */
export async function markSent(
  tx: Pick<Tx, 'query'>,
  sent: ReadonlyArray<{ id: string; response: string; deduplicated: boolean }>,
  at: Date,
): Promise<void> {
  if (sent.length === 0) return;
  await tx.query(
    `UPDATE notifications n SET status = 'SENT', sent_at = $4, smtp_response = v.response, deduplicated = v.deduplicated,
            outcome_unknown = false, last_error = NULL, updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::boolean[]) AS v(id, response, deduplicated) WHERE n.id = v.id`,
    [sent.map((s) => s.id), sent.map((s) => s.response), sent.map((s) => s.deduplicated), at],
  );
}

/** An attempt that did not end in SENT: its error, whether its outcome is still unknown, and FAILED when it was the last. */
export async function markFailed(
  tx: Pick<Tx, 'query'>,
  failed: ReadonlyArray<{ id: string; error: string; outcomeUnknown: boolean; final: boolean }>,
): Promise<void> {
  if (failed.length === 0) return;
  await tx.query(
    `UPDATE notifications n SET last_error = v.error, outcome_unknown = v.unknown,
            status = CASE WHEN v.final THEN 'FAILED' ELSE n.status END, updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::boolean[], $4::boolean[]) AS v(id, error, unknown, final) WHERE n.id = v.id`,
    [failed.map((f) => f.id), failed.map((f) => f.error), failed.map((f) => f.outcomeUnknown), failed.map((f) => f.final)],
  );
}

/** The events of a consumer already claimed in its inbox: their emails are settled. */
export async function claimedEvents(tx: Pick<Tx, 'query'>, consumer: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await tx.query<{ event_id: string }>('SELECT event_id FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])', [
    consumer,
    ids,
  ]);
  return new Set(rows.map((row) => row.event_id));
}
