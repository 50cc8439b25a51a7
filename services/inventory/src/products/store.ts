import { lockRows, type Tx } from '@jetsaga/platform';
import type { StockLevel } from '../reservations/reservation.js';
import type { Product } from './product.js';

type ProductRow = { id: string; sku: string; name: string; price_cents: number; available: number; reserved: number };

const SELECT = 'SELECT id, sku, name, price_cents, available, reserved FROM products';

const fromRow = (row: ProductRow): Product => ({
  status: 'ACTIVE',
  id: row.id,
  sku: row.sku,
  name: row.name,
  priceCents: row.price_cents,
  available: row.available,
  reserved: row.reserved,
});

export async function loadProduct(tx: Pick<Tx, 'query'>, id: string): Promise<Product> {
  const { rows } = await tx.query<ProductRow>(`${SELECT} WHERE id = $1`, [id]);
  return rows[0] ? fromRow(rows[0]) : { status: 'NONE' };
}

export function loadProducts(tx: Tx, ids: readonly string[]): Promise<Map<string, Product>> {
  return lockRows(tx, { table: 'products', key: 'id', columns: 'id, sku, name, price_cents, available, reserved' }, ids, fromRow);
}

/** A page of the catalogue in id order (ids are time-ordered UUIDv7: oldest first), after a product id. */
export async function listProducts(db: Pick<Tx, 'query'>, options: { after?: string; limit: number }): Promise<Product[]> {
  const { rows } = await db.query<ProductRow>(`${SELECT} WHERE ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2`, [
    options.after ?? null,
    options.limit,
  ]);
  return rows.map(fromRow);
}

/** Locks the rows in id order, so two reservations over the same products never deadlock. */
export async function lockStock(tx: Tx, productIds: readonly string[]): Promise<Map<string, StockLevel>> {
  const { rows } = await tx.query<{ id: string; available: number; reserved: number }>(
    'SELECT id, available, reserved FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    [productIds],
  );
  return new Map(rows.map((row) => [row.id, { available: row.available, reserved: row.reserved }]));
}

/** Moves stock of many products in one statement: the net change per product of everything decided. */
export async function moveStock(tx: Tx, deltas: ReadonlyArray<{ productId: string; available: number; reserved: number }>): Promise<void> {
  const net = new Map<string, { available: number; reserved: number }>();
  for (const delta of deltas) {
    const sum = net.get(delta.productId) ?? { available: 0, reserved: 0 };
    net.set(delta.productId, { available: sum.available + delta.available, reserved: sum.reserved + delta.reserved });
  }
  const moved = [...net].filter(([, sum]) => sum.available !== 0 || sum.reserved !== 0);
  if (moved.length === 0) return;
  await tx.query(
    `UPDATE products p SET available = p.available + v.available, reserved = p.reserved + v.reserved, updated_at = now()
     FROM unnest($1::uuid[], $2::int[], $3::int[]) AS v(id, available, reserved) WHERE p.id = v.id`,
    [moved.map(([id]) => id), moved.map(([, sum]) => sum.available), moved.map(([, sum]) => sum.reserved)],
  );
}

export function productView(product: Product & { status: 'ACTIVE' }) {
  const { id, sku, name, priceCents, available, reserved } = product;
  return { id, sku, name, priceCents, available, reserved };
}
