import type { Tx } from '@jetsaga/platform';
import type { Cart, CartItem } from './cart.js';

type CartRow = { id: string; customer_id: string; status: 'OPEN' | 'CHECKED_OUT'; items: CartItem[]; order_id: string | null };

export async function loadCart(tx: Pick<Tx, 'query'>, id: string, lock = false): Promise<Cart> {
  const { rows } = await tx.query<CartRow>(
    `SELECT id, customer_id, status, items, order_id FROM carts WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  const row = rows[0];
  if (!row) return { status: 'NONE' };
  return { status: row.status, id: row.id, customerId: row.customer_id, items: row.items, orderId: row.order_id };
}

export async function saveCart(tx: Tx, cart: Cart): Promise<void> {
  if (cart.status === 'NONE') return;
  await tx.query(
    `INSERT INTO carts (id, customer_id, status, items, order_id) VALUES ($1, $2, $3, $4::jsonb, $5)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, items = EXCLUDED.items, order_id = EXCLUDED.order_id, updated_at = now()`,
    [cart.id, cart.customerId, cart.status, JSON.stringify(cart.items), cart.orderId],
  );
}

export function cartView(cart: Cart & { status: 'OPEN' | 'CHECKED_OUT' }) {
  return {
    id: cart.id,
    customerId: cart.customerId,
    status: cart.status,
    items: cart.items,
    totalCents: cart.items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0),
    ...(cart.orderId ? { orderId: cart.orderId } : {}),
  };
}
