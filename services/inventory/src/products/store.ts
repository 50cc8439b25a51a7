import type { Tx } from '@jetsaga/platform';
import type { StockLevel } from '../reservations/reservation.js';
import type { Product } from './product.js';

type ProductRow = { id: string; sku: string; name: string; price_cents: number; available: number; reserved: number };

export async function loadProduct(tx: Pick<Tx, 'query'>, id: string): Promise<Product> {
  const { rows } = await tx.query<ProductRow>('SELECT id, sku, name, price_cents, available, reserved FROM products WHERE id = $1', [id]);
  const row = rows[0];
  if (!row) return { status: 'NONE' };
  return {
    status: 'ACTIVE',
    id: row.id,
    sku: row.sku,
    name: row.name,
    priceCents: row.price_cents,
    available: row.available,
    reserved: row.reserved,
  };
}

/** Locks the rows in id order, so two reservations over the same products never deadlock. */
export async function lockStock(tx: Tx, productIds: readonly string[]): Promise<Map<string, StockLevel>> {
  const { rows } = await tx.query<{ id: string; available: number; reserved: number }>(
    'SELECT id, available, reserved FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    [productIds],
  );
  return new Map(rows.map((row) => [row.id, { available: row.available, reserved: row.reserved }]));
}

export async function moveStock(tx: Tx, deltas: ReadonlyArray<{ productId: string; available: number; reserved: number }>): Promise<void> {
  for (const delta of deltas) {
    await tx.query('UPDATE products SET available = available + $2, reserved = reserved + $3, updated_at = now() WHERE id = $1', [
      delta.productId,
      delta.available,
      delta.reserved,
    ]);
  }
}

export function productView(product: Product & { status: 'ACTIVE' }) {
  const { id, sku, name, priceCents, available, reserved } = product;
  return { id, sku, name, priceCents, available, reserved };
}
