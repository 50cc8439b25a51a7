import type { Address, DomainEvent } from '@jetsaga/events';
import type { Db } from '@jetsaga/platform';

/** The event types shipping's read model of addresses is built from. */
export const DESTINATION_EVENT_TYPES = ['CustomerRegistered', 'OrderPlaced'] as const;

export type AddressRows = { customers: Map<string, Address>; orders: Map<string, Address> };

/**
 * Pure: the address rows a batch of events gives. Only events that carry an address matter: a customer without one,
 * or a checkout that named none, leaves nothing to remember.
 */
export function addressRows(events: readonly DomainEvent[]): AddressRows {
  const rows: AddressRows = { customers: new Map(), orders: new Map() };
  for (const event of events) {
    if (event.type === 'CustomerRegistered' && event.data.address) rows.customers.set(event.data.customerId, event.data.address);
    if (event.type === 'OrderPlaced' && event.data.shippingAddress) rows.orders.set(event.data.orderId, event.data.shippingAddress);
  }
  return rows;
}

/**
 * Upserts them in one statement (none when the batch had no address). A customer registers once and an order is
 * placed once, so a redelivered event writes the same row again: no inbox claim is needed.
 */
export async function saveAddressRows(db: Pick<Db, 'query'>, rows: AddressRows): Promise<void> {
  if (rows.customers.size === 0 && rows.orders.size === 0) return;
  await db.query(
    `WITH customers AS (
       INSERT INTO customer_addresses (customer_id, address)
       SELECT v.id, v.address::jsonb FROM unnest($1::uuid[], $2::text[]) AS v(id, address)
       ON CONFLICT (customer_id) DO UPDATE SET address = EXCLUDED.address
     )
     INSERT INTO order_addresses (order_id, address)
     SELECT v.id, v.address::jsonb FROM unnest($3::uuid[], $4::text[]) AS v(id, address)
     ON CONFLICT (order_id) DO UPDATE SET address = EXCLUDED.address`,
    [
      [...rows.customers.keys()],
      [...rows.customers.values()].map((address) => JSON.stringify(address)),
      [...rows.orders.keys()],
      [...rows.orders.values()].map((address) => JSON.stringify(address)),
    ],
  );
}
