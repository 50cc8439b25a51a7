import { type Address, type DomainEvent, ERASED } from '@jetsaga/events';
import type { Db } from '@jetsaga/platform';

/** The event types shipping's read model of addresses is built from (and scrubbed by: an erasure). */
export const DESTINATION_EVENT_TYPES = ['CustomerRegistered', 'CustomerErased', 'OrderPlaced'] as const;

export type AddressRows = {
  customers: Map<string, Address>;
  orders: Map<string, { customerId: string; address: Address }>;
  /** Customers erased (ADR 0052): their addresses go, here and in their parcels. */
  erased: Set<string>;
};

/**
 * Pure: the address rows a batch of events gives. Only events that carry an address matter: a customer without one,
 * or a checkout that named none, leaves nothing to remember. The addresses come opened (the consumer asks for
 * personal data); after an erasure they open as `[erased]`, which is what is kept then.
 */
export function addressRows(events: readonly DomainEvent[]): AddressRows {
  const rows: AddressRows = { customers: new Map(), orders: new Map(), erased: new Set() };
  for (const event of events) {
    if (event.type === 'CustomerRegistered' && event.data.address) rows.customers.set(event.data.customerId, event.data.address);
    if (event.type === 'OrderPlaced' && event.data.shippingAddress) {
      rows.orders.set(event.data.orderId, { customerId: event.data.customerId, address: event.data.shippingAddress });
    }
    if (event.type === 'CustomerErased') rows.erased.add(event.data.customerId);
  }
  return rows;
}

/** SQL: the address in `column` with every personal line replaced by `[erased]` ($1), the country kept. */
function erasedAddress(column: string): string {
  return `(${column} || jsonb_build_object('line1', $1::text, 'city', $1::text, 'postalCode', $1::text)
            || CASE WHEN ${column} ? 'line2' THEN jsonb_build_object('line2', $1::text) ELSE '{}'::jsonb END)`;
}

/**
 * Upserts them in one statement (none when the batch had no address). A customer registers once and an order is
 * placed once, so a redelivered event writes the same row again: no inbox claim is needed. An erasure (after the
 * upserts: it comes later in the stream) deletes the customer's addresses and overwrites the address of each of
 * their parcels and in their parcels' timelines; doing it again finds nothing more to change.
 */
export async function saveAddressRows(db: Pick<Db, 'query'>, rows: AddressRows): Promise<void> {
  if (rows.customers.size > 0 || rows.orders.size > 0) {
    await db.query(
      `WITH customers AS (
         INSERT INTO customer_addresses (customer_id, address)
         SELECT v.id, v.address::jsonb FROM unnest($1::uuid[], $2::text[]) AS v(id, address)
         ON CONFLICT (customer_id) DO UPDATE SET address = EXCLUDED.address
       )
       INSERT INTO order_addresses (order_id, customer_id, address)
       SELECT v.id, v.customer_id, v.address::jsonb FROM unnest($3::uuid[], $4::uuid[], $5::text[]) AS v(id, customer_id, address)
       ON CONFLICT (order_id) DO UPDATE SET address = EXCLUDED.address, customer_id = EXCLUDED.customer_id`,
      [
        [...rows.customers.keys()],
        [...rows.customers.values()].map((address) => JSON.stringify(address)),
        [...rows.orders.keys()],
        [...rows.orders.values()].map((order) => order.customerId),
        [...rows.orders.values()].map((order) => JSON.stringify(order.address)),
      ],
    );
  }
  if (rows.erased.size === 0) return;
  const ids = [...rows.erased];
  await db.query(
    `WITH parcels AS (SELECT id, order_id FROM shipments WHERE customer_id = ANY($2::uuid[])),
     customers AS (DELETE FROM customer_addresses WHERE customer_id = ANY($2::uuid[])),
     orders AS (
       DELETE FROM order_addresses WHERE customer_id = ANY($2::uuid[]) OR order_id IN (SELECT order_id FROM parcels)
     ),
     timeline AS (
       UPDATE shipment_timeline SET data = data || jsonb_build_object('address', ${erasedAddress("data->'address'")})
       WHERE shipment_id IN (SELECT id FROM parcels) AND data ? 'address'
     )
     UPDATE shipments SET state = state || jsonb_build_object('address', ${erasedAddress("state->'address'")}), updated_at = now()
     WHERE id IN (SELECT id FROM parcels) AND state ? 'address'`,
    [ERASED, ids],
  );
}
