import type { OrderLine } from '@jetsaga/events';
import { type Change, lockRows, type Tx } from '@jetsaga/platform';
import type { Reservation, ReservationStatus } from './reservation.js';

/** The reservations of many orders, row-locked in id order (two batches never deadlock on them). */
export function loadReservations(tx: Tx, orderIds: readonly string[]): Promise<Map<string, Reservation>> {
  return lockRows(
    tx,
    { table: 'reservations', key: 'order_id', columns: 'order_id, status, lines' },
    orderIds,
    (row: { order_id: string; status: ReservationStatus; lines: OrderLine[] }): Reservation => ({
      status: row.status,
      orderId: row.order_id,
      lines: row.lines,
    }),
  );
}

/** Every changed reservation in one statement. */
export async function saveReservations(tx: Tx, changes: readonly Change<Reservation>[]): Promise<void> {
  const saved = changes.flatMap((change) => (change.state.status === 'NONE' ? [] : [{ id: change.id, state: change.state }]));
  if (saved.length === 0) return;
  await tx.query(
    `INSERT INTO reservations (order_id, status, lines)
     SELECT v.order_id, v.status, v.lines::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(order_id, status, lines)
     ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, lines = EXCLUDED.lines, updated_at = now()`,
    [saved.map((row) => row.id), saved.map((row) => row.state.status), saved.map((row) => JSON.stringify(row.state.lines))],
  );
}
