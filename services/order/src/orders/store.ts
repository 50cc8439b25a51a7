import type { CancellationReason, OrderLine } from '@jetsaga/events';
import { type Change, currentTraceId, lockRows, type Tx } from '@jetsaga/platform';
import type { Order, OrderStatus } from './order.js';

type OrderRow = {
  id: string;
  cart_id: string;
  customer_id: string;
  status: OrderStatus;
  reason: CancellationReason | null;
  lines: OrderLine[];
  total_cents: number;
  correlation_id: string;
  deadline_at: Date;
  trace_id: string | null;
  created_at: Date;
};

export type StoredOrder = Order & { status: OrderStatus; correlationId: string; traceId?: string; placedAt: Date };

function fromRow(row: OrderRow): StoredOrder {
  return {
    status: row.status,
    id: row.id,
    cartId: row.cart_id,
    customerId: row.customer_id,
    lines: row.lines,
    totalCents: row.total_cents,
    deadlineAt: row.deadline_at.toISOString(),
    reason: row.reason,
    correlationId: row.correlation_id,
    ...(row.trace_id ? { traceId: row.trace_id } : {}),
    placedAt: row.created_at,
  };
}

const COLUMNS = 'id, cart_id, customer_id, status, reason, lines, total_cents, correlation_id, deadline_at, trace_id, created_at';

export async function loadOrder(tx: Pick<Tx, 'query'>, id: string): Promise<StoredOrder | undefined> {
  const { rows } = await tx.query<OrderRow>(`SELECT ${COLUMNS} FROM orders WHERE id = $1`, [id]);
  return rows[0] && fromRow(rows[0]);
}

/** Many orders, row-locked in id order. */
export function loadOrders(tx: Tx, ids: readonly string[]): Promise<Map<string, StoredOrder>> {
  return lockRows(tx, { table: 'orders', key: 'id', columns: COLUMNS }, ids, fromRow);
}

/** New orders are inserted (with their saga's correlation and the trace that placed them); the others change status, in one statement. */
export async function saveOrders(tx: Tx, changes: readonly Change<Order>[]): Promise<void> {
  for (const change of changes) {
    if (!change.existed) await insertOrder(tx, change.state, change.events[0]?.correlationId ?? change.id, currentTraceId());
  }
  const updated = changes.flatMap((change) => (change.existed && change.state.status !== 'NONE' ? [change.state] : []));
  if (updated.length === 0) return;
  await tx.query(
    `UPDATE orders o SET status = v.status, reason = v.reason, updated_at = now()
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, status, reason) WHERE o.id = v.id`,
    [updated.map((order) => order.id), updated.map((order) => order.status), updated.map((order) => order.reason)],
  );
}

async function insertOrder(tx: Tx, order: Order, correlationId: string, traceId?: string): Promise<void> {
  if (order.status === 'NONE') return;
  await tx.query(
    `INSERT INTO orders (id, cart_id, customer_id, status, reason, lines, total_cents, correlation_id, deadline_at, trace_id)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)`,
    [
      order.id,
      order.cartId,
      order.customerId,
      order.status,
      order.reason,
      JSON.stringify(order.lines),
      order.totalCents,
      correlationId,
      order.deadlineAt,
      traceId ?? null,
    ],
  );
}

export function orderView(order: StoredOrder) {
  return {
    id: order.id,
    customerId: order.customerId,
    status: order.status,
    ...(order.reason ? { reason: order.reason } : {}),
    lines: order.lines,
    totalCents: order.totalCents,
    correlationId: order.correlationId,
    ...(order.traceId ? { traceId: order.traceId } : {}),
  };
}
