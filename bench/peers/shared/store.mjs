// The business work of the order saga for the benchmark peers (DBOS, Temporal), on Postgres tables of their own:
// the same rules as jetsaga's services (integer cents, all-or-nothing reservation, no oversell, compensation on a
// refused payment), written once so both peers do exactly the same work. Every step is one transaction and is
// idempotent by order id: durable-workflow engines run a step at least once (again after a crash before its result
// was recorded), so running one twice must change nothing. Never part of the product.

/** Tables of one peer's database. `initial_*` columns let the check after the run prove conservation. */
export const SCHEMA = `
  CREATE TABLE customers (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
    initial_balance_cents bigint NOT NULL
  );
  CREATE TABLE products (
    id uuid PRIMARY KEY,
    sku text NOT NULL UNIQUE,
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    stock integer NOT NULL CHECK (stock >= 0),
    initial_stock integer NOT NULL
  );
  CREATE TABLE carts (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    status text NOT NULL CHECK (status IN ('OPEN', 'CHECKED_OUT')),
    items jsonb NOT NULL DEFAULT '[]'::jsonb,
    order_id uuid
  );
  CREATE TABLE orders (
    id uuid PRIMARY KEY,
    cart_id uuid NOT NULL UNIQUE REFERENCES carts (id),
    customer_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED')),
    reason text,
    lines jsonb NOT NULL,
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    placed_at_ms bigint NOT NULL,
    ended_at_ms bigint
  );
  CREATE INDEX orders_pending ON orders (placed_at_ms) WHERE status = 'PENDING';
  CREATE INDEX orders_placed ON orders (placed_at_ms);
  CREATE TABLE reservations (
    order_id uuid PRIMARY KEY,
    status text NOT NULL CHECK (status IN ('RESERVED', 'UNAVAILABLE', 'RELEASED', 'COMMITTED')),
    lines jsonb NOT NULL
  );
  CREATE TABLE payments (
    order_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    status text NOT NULL CHECK (status IN ('ACCEPTED', 'REFUSED'))
  );
  CREATE TABLE sales (
    order_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0)
  );
`;

async function inTransaction(pool, work) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query(result?.rollback ? 'ROLLBACK' : 'COMMIT');
    return result?.value;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** One line per product, quantities summed, sorted by product id (rows are locked in that order: no deadlocks). */
export function mergeLines(items) {
  const byProduct = new Map();
  for (const item of items) {
    const line = byProduct.get(item.productId) ?? { productId: item.productId, quantity: 0, priceCents: item.priceCents };
    line.quantity += item.quantity;
    byProduct.set(item.productId, line);
  }
  return [...byProduct.values()].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

/**
 * Reserve every line or none. The guarded UPDATE locks the products in id order, checks that every line is there
 * with enough stock, and takes it only then; the reservation row (keyed by order) makes a second run a no-op: its
 * decrement is rolled back and the first outcome returned. Returns 'RESERVED' or 'UNAVAILABLE'.
 */
export function reserveStock(pool, { orderId, lines }) {
  const ids = lines.map((line) => line.productId);
  const quantities = lines.map((line) => line.quantity);
  return inTransaction(pool, async (tx) => {
    const taken = await tx.query(
      `WITH want AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS w(id, quantity)),
            locked AS (SELECT p.id, p.stock, w.quantity FROM products p JOIN want w ON w.id = p.id ORDER BY p.id FOR UPDATE OF p),
            enough AS (SELECT count(*) = (SELECT count(*) FROM want) AND coalesce(bool_and(stock >= quantity), false) AS ok FROM locked)
       UPDATE products p SET stock = p.stock - l.quantity FROM locked l, enough
       WHERE enough.ok AND p.id = l.id RETURNING p.id`,
      [ids, quantities],
    );
    const status = taken.rowCount === lines.length && lines.length > 0 ? 'RESERVED' : 'UNAVAILABLE';
    const inserted = await tx.query(
      'INSERT INTO reservations (order_id, status, lines) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING',
      [orderId, status, JSON.stringify(lines)],
    );
    if (inserted.rowCount === 1) return { value: status };
    // Ran before: undo this run's decrement, answer what the first run decided.
    const { rows } = await tx.query('SELECT status FROM reservations WHERE order_id = $1', [orderId]);
    return { rollback: true, value: rows[0].status === 'UNAVAILABLE' ? 'UNAVAILABLE' : 'RESERVED' };
  });
}

/** Debit the customer if the balance covers the order (integer cents). Returns 'ACCEPTED' or 'REFUSED'. */
export function chargeCustomer(pool, { orderId, customerId, totalCents }) {
  return inTransaction(pool, async (tx) => {
    const debited = await tx.query(
      'UPDATE customers SET balance_cents = balance_cents - $2 WHERE id = $1 AND balance_cents >= $2 RETURNING id',
      [customerId, totalCents],
    );
    const status = debited.rowCount === 1 ? 'ACCEPTED' : 'REFUSED';
    const inserted = await tx.query(
      'INSERT INTO payments (order_id, customer_id, amount_cents, status) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING',
      [orderId, customerId, totalCents, status],
    );
    if (inserted.rowCount === 1) return { value: status };
    const { rows } = await tx.query('SELECT status FROM payments WHERE order_id = $1', [orderId]);
    return { rollback: true, value: rows[0].status };
  });
}

/** The sale, once per order. */
export async function recordSale(pool, { orderId, customerId, totalCents }) {
  await pool.query('INSERT INTO sales (order_id, customer_id, amount_cents) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING', [
    orderId,
    customerId,
    totalCents,
  ]);
}

/** The reserved units are sold: the reservation becomes final (the stock left the shelf when it was reserved). */
export async function commitStock(pool, { orderId }) {
  await pool.query("UPDATE reservations SET status = 'COMMITTED' WHERE order_id = $1 AND status = 'RESERVED'", [orderId]);
}

/** Compensation: the reserved units go back on the shelf, once (the status change and the increment are one statement). */
export async function releaseStock(pool, { orderId }) {
  await pool.query(
    `WITH released AS (
       UPDATE reservations SET status = 'RELEASED' WHERE order_id = $1 AND status = 'RESERVED' RETURNING lines
     ), back AS (
       SELECT (line->>'productId')::uuid AS id, sum((line->>'quantity')::int) AS quantity
       FROM released, jsonb_array_elements(released.lines) AS line GROUP BY 1
     )
     UPDATE products p SET stock = p.stock + back.quantity FROM back WHERE p.id = back.id`,
    [orderId],
  );
}

/** The saga's end: the order becomes terminal once; `ended_at_ms` is when its outcome was written. */
export async function finishOrder(pool, { orderId, status, reason = null }) {
  await pool.query(
    `UPDATE orders SET status = $2, reason = $3, ended_at_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint
     WHERE id = $1 AND status = 'PENDING'`,
    [orderId, status, reason],
  );
}

/** Check-out of a cart (HTTP request): the cart closes and the order is placed in one transaction. */
export function placeOrder(pool, { cartId, orderId, placedAtMs }) {
  return inTransaction(pool, async (tx) => {
    const { rows } = await tx.query('SELECT customer_id, status, items FROM carts WHERE id = $1 FOR UPDATE', [cartId]);
    if (rows.length === 0) return { rollback: true, value: { problem: 404, detail: `cart ${cartId} does not exist` } };
    const cart = rows[0];
    if (cart.status !== 'OPEN') return { rollback: true, value: { problem: 409, detail: `cart ${cartId} is already checked out` } };
    if (cart.items.length === 0) return { rollback: true, value: { problem: 422, detail: `cart ${cartId} is empty` } };
    const lines = mergeLines(cart.items);
    const totalCents = lines.reduce((sum, line) => sum + line.quantity * line.priceCents, 0);
    await tx.query("UPDATE carts SET status = 'CHECKED_OUT', order_id = $2 WHERE id = $1", [cartId, orderId]);
    await tx.query(
      `INSERT INTO orders (id, cart_id, customer_id, status, lines, total_cents, placed_at_ms)
       VALUES ($1, $2, $3, 'PENDING', $4, $5, $6)`,
      [orderId, cartId, cart.customer_id, JSON.stringify(lines), totalCents, placedAtMs],
    );
    return {
      value: {
        order: {
          orderId,
          customerId: cart.customer_id,
          lines: lines.map(({ productId, quantity }) => ({ productId, quantity })),
          totalCents,
        },
      },
    };
  });
}

/** Orders a crash may have left without a running saga (placed, saga not started): restarted at start-up. */
export async function pendingOrders(pool) {
  const { rows } = await pool.query("SELECT id, customer_id, lines, total_cents FROM orders WHERE status = 'PENDING'");
  return rows.map((row) => ({
    orderId: row.id,
    customerId: row.customer_id,
    lines: row.lines.map(({ productId, quantity }) => ({ productId, quantity })),
    totalCents: Number(row.total_cents),
  }));
}

/** The steps by name, bound to a pool: what a DBOS step or a Temporal activity runs. */
export function sagaSteps(pool) {
  return {
    reserveStock: (order) => reserveStock(pool, order),
    chargeCustomer: (order) => chargeCustomer(pool, order),
    recordSale: (order) => recordSale(pool, order),
    commitStock: (order) => commitStock(pool, order),
    releaseStock: (order) => releaseStock(pool, order),
    completeOrder: (order) => finishOrder(pool, { orderId: order.orderId, status: 'COMPLETED' }),
    cancelOrder: ({ orderId, reason }) => finishOrder(pool, { orderId, status: 'CANCELLED', reason }),
  };
}
