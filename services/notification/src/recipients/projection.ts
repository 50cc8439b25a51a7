import type { DomainEvent } from '@jetsaga/events';
import type { Tx } from '@jetsaga/platform';
import { localeOf } from '../notifications/templates.js';

/** The event types notification's read models are built from, before the emails they address. */
export const RECIPIENT_EVENT_TYPES = ['CustomerRegistered', 'CustomerErased', 'OrderPlaced', 'ComplaintOpened'] as const;

/** The text that replaces an erased customer's address in the notification history. */
export const ERASED = '[erased]';

export type ReadModelRows = {
  recipients: Map<string, { name: string; email: string; locale: string }>;
  orders: Map<string, { customerId: string; totalCents: number }>;
  complaints: Map<string, { customerId: string; orderId?: string; title: string }>;
  erased: Set<string>;
};

/**
 * Pure: what a batch of events writes into the read models, in stream order (an erasure after a registration in the
 * same batch wins; a registration after an erasure is a new account of the same id, which payment never makes).
 */
export function readModelRows(events: readonly DomainEvent[]): ReadModelRows {
  const rows: ReadModelRows = { recipients: new Map(), orders: new Map(), complaints: new Map(), erased: new Set() };
  for (const event of events) {
    switch (event.type) {
      case 'CustomerRegistered': {
        const { customerId, name, email, locale } = event.data;
        rows.recipients.set(customerId, { name, email, locale: localeOf(locale) });
        rows.erased.delete(customerId);
        break;
      }
      case 'CustomerErased':
        rows.recipients.delete(event.data.customerId);
        rows.erased.add(event.data.customerId);
        break;
      case 'OrderPlaced':
        rows.orders.set(event.data.orderId, { customerId: event.data.customerId, totalCents: event.data.totalCents });
        break;
      case 'ComplaintOpened': {
        const { complaintId, customerId, orderId, title } = event.data;
        rows.complaints.set(complaintId, { customerId, title, ...(orderId ? { orderId } : {}) });
        break;
      }
      default:
        break;
    }
  }
  return rows;
}

/**
 * Writes them in the batch's transaction. Upserts are idempotent (a redelivered registration writes the same row); an
 * erasure removes the address and overwrites it in every notification already recorded for the customer.
 */
export async function saveReadModelRows(tx: Pick<Tx, 'query'>, rows: ReadModelRows): Promise<void> {
  if (rows.recipients.size > 0) {
    await tx.query(
      `INSERT INTO recipients (customer_id, name, email, locale)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, locale = EXCLUDED.locale`,
      [
        [...rows.recipients.keys()],
        [...rows.recipients.values()].map((r) => r.name),
        [...rows.recipients.values()].map((r) => r.email),
        [...rows.recipients.values()].map((r) => r.locale),
      ],
    );
  }
  if (rows.orders.size > 0) {
    await tx.query(
      `INSERT INTO order_customers (order_id, customer_id, total_cents)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) ON CONFLICT (order_id) DO NOTHING`,
      [[...rows.orders.keys()], [...rows.orders.values()].map((o) => o.customerId), [...rows.orders.values()].map((o) => o.totalCents)],
    );
  }
  if (rows.complaints.size > 0) {
    await tx.query(
      `INSERT INTO complaint_customers (complaint_id, customer_id, order_id, title)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[]) ON CONFLICT (complaint_id) DO NOTHING`,
      [
        [...rows.complaints.keys()],
        [...rows.complaints.values()].map((c) => c.customerId),
        [...rows.complaints.values()].map((c) => c.orderId ?? null),
        [...rows.complaints.values()].map((c) => c.title),
      ],
    );
  }
  if (rows.erased.size > 0) {
    const ids = [...rows.erased];
    await tx.query('DELETE FROM recipients WHERE customer_id = ANY($1::uuid[])', [ids]);
    // The address also goes from what the SMTP server answered or failed with, should it have quoted it.
    await tx.query(
      `UPDATE notifications SET to_address = $2, last_error = replace(last_error, to_address, $2),
         smtp_response = replace(smtp_response, to_address, $2), updated_at = now()
       WHERE customer_id = ANY($1::uuid[]) AND to_address <> $2`,
      [ids, ERASED],
    );
  }
}
