import { type Change, type CommandHandler, lockRows, NotFoundError, type Tx } from '@jetsaga/platform';
import { type Cart, type CartCommand, type CartEvent, type CartItem, decideCart, evolveCart, initialCart } from './cart.js';

type CartRow = { id: string; customer_id: string; status: 'OPEN' | 'CHECKED_OUT'; items: CartItem[]; order_id: string | null };

const fromRow = (row: CartRow): Cart => ({
  status: row.status,
  id: row.id,
  customerId: row.customer_id,
  items: row.items,
  orderId: row.order_id,
});

export async function loadCart(tx: Pick<Tx, 'query'>, id: string): Promise<Cart> {
  const { rows } = await tx.query<CartRow>(`SELECT ${CARTS.columns} FROM carts WHERE id = $1`, [id]);
  return rows[0] ? fromRow(rows[0]) : { status: 'NONE' };
}

const CARTS = { table: 'carts', key: 'id', columns: 'id, customer_id, status, items, order_id' };

async function saveCarts(tx: Tx, changes: readonly Change<Cart>[]): Promise<void> {
  const saved = changes.flatMap(({ state }) => (state.status === 'NONE' ? [] : [state]));
  if (saved.length === 0) return;
  await tx.query(
    `INSERT INTO carts (id, customer_id, status, items, order_id)
     SELECT v.id, v.customer_id, v.status, v.items::jsonb, v.order_id
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[]) AS v(id, customer_id, status, items, order_id)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, items = EXCLUDED.items, order_id = EXCLUDED.order_id, updated_at = now()`,
    [
      saved.map((cart) => cart.id),
      saved.map((cart) => cart.customerId),
      saved.map((cart) => cart.status),
      saved.map((cart) => JSON.stringify(cart.items)),
      saved.map((cart) => cart.orderId),
    ],
  );
}

export const carts: CommandHandler<Cart, CartCommand, CartEvent> = {
  initialState: initialCart,
  // The row lock serializes concurrent commands on one cart: of two checkouts the first wins, the other sees CHECKED_OUT.
  load: (tx, ids) => lockRows(tx, CARTS, ids, fromRow),
  decide: (state, command) => {
    if (state.status === 'NONE' && command.type !== 'CreateCart') throw new NotFoundError('the cart does not exist');
    return decideCart(state, command);
  },
  evolve: evolveCart,
  save: saveCarts,
};

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
