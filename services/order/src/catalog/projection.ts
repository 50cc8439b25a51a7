import type { DomainEvent, EventType } from '@jetsaga/events';

/**
 * Order's local view of what other contexts own and a cart needs at request time (ADR 0039): which customers exist
 * and what each product costs. It is a projection of their events, nothing else, so rebuilding it from sequence 1
 * gives exactly the same rows.
 */
export const CATALOG_EVENT_TYPES = ['CustomerRegistered', 'ProductCreated'] as const satisfies readonly EventType[];

/** An event with the EVENTS sequence that stored it: the version a row keeps, so an older event never wins. */
export type SequencedEvent = { event: DomainEvent; sequence: number };

export type KnownCustomer = { customerId: string; sequence: number };
export type ProductPrice = { productId: string; priceCents: number; sequence: number };

/** What one batch of events writes: at most one row per id (a multi-row upsert may not touch a row twice). */
export type CatalogRows = { customers: KnownCustomer[]; products: ProductPrice[] };

/**
 * The rows a batch of events makes, the latest event of each id winning. Events of other types are not the
 * catalogue's: they make no row (the consumer's filter keeps them away; a redriven message could still be one).
 */
export function catalogRows(events: readonly SequencedEvent[]): CatalogRows {
  const customers = new Map<string, KnownCustomer>();
  const products = new Map<string, ProductPrice>();
  for (const { event, sequence } of events) {
    switch (event.type) {
      case 'CustomerRegistered': {
        const { customerId } = event.data;
        const known = customers.get(customerId);
        if (!known || known.sequence < sequence) customers.set(customerId, { customerId, sequence });
        break;
      }
      case 'ProductCreated': {
        const { productId, priceCents } = event.data;
        const known = products.get(productId);
        if (!known || known.sequence < sequence) products.set(productId, { productId, priceCents, sequence });
        break;
      }
      default:
        break;
    }
  }
  return { customers: [...customers.values()], products: [...products.values()] };
}

export function isEmpty(rows: CatalogRows): boolean {
  return rows.customers.length === 0 && rows.products.length === 0;
}
