import type { Tx } from '@jetsaga/platform';
import type { CatalogRows } from './projection.js';

type Queryable = Pick<Tx, 'query'>;

/**
 * One statement, one round trip, for a whole batch: both upserts as data-modifying CTEs over arrays. A row only
 * changes for a newer event (a higher EVENTS sequence), so a redelivery, a duplicate or a replay from sequence 1
 * writes nothing, and a later price event (none exists yet) would not be undone by an older one arriving late.
 */
const APPLY = `
  WITH customers AS (
    INSERT INTO known_customers (customer_id, event_sequence)
    SELECT * FROM unnest($1::uuid[], $2::bigint[])
    ON CONFLICT (customer_id) DO UPDATE SET event_sequence = EXCLUDED.event_sequence
      WHERE known_customers.event_sequence < EXCLUDED.event_sequence
    RETURNING 1
  ), products AS (
    INSERT INTO product_prices (product_id, price_cents, event_sequence)
    SELECT * FROM unnest($3::uuid[], $4::bigint[], $5::bigint[])
    ON CONFLICT (product_id) DO UPDATE SET price_cents = EXCLUDED.price_cents, event_sequence = EXCLUDED.event_sequence
      WHERE product_prices.event_sequence < EXCLUDED.event_sequence
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM customers)::int AS customers, (SELECT count(*) FROM products)::int AS products`;

/** Writes a batch's rows; answers how many rows changed (0 for a batch already applied). */
export async function applyCatalogRows(db: Queryable, rows: CatalogRows): Promise<{ customers: number; products: number }> {
  const result = await db.query<{ customers: number; products: number }>({
    name: 'order-catalog-apply',
    text: APPLY,
    values: [
      rows.customers.map((row) => row.customerId),
      rows.customers.map((row) => row.sequence),
      rows.products.map((row) => row.productId),
      rows.products.map((row) => row.priceCents),
      rows.products.map((row) => row.sequence),
    ],
  });
  return result.rows[0] ?? { customers: 0, products: 0 };
}

export async function knownPrice(db: Queryable, productId: string): Promise<number | undefined> {
  const result = await db.query<{ price_cents: number }>({
    name: 'order-catalog-price',
    text: 'SELECT price_cents FROM product_prices WHERE product_id = $1',
    values: [productId],
  });
  return result.rows[0]?.price_cents;
}

export async function knownCustomer(db: Queryable, customerId: string): Promise<boolean> {
  const result = await db.query({
    name: 'order-catalog-customer',
    text: 'SELECT 1 FROM known_customers WHERE customer_id = $1',
    values: [customerId],
  });
  return (result.rowCount ?? 0) > 0;
}
