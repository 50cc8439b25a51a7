import { type DomainEvent, EVENTS_STREAM, eventTypeFilter, materialize, type OrderLine } from '@jetsaga/events';
import {
  type ConsumerDefinition,
  causedBy,
  claimEvent,
  enqueueEvents,
  type ServiceDeps,
  type Tx,
  withTransaction,
} from '@jetsaga/platform';
import { lockStock, moveStock } from '../products/store.js';
import {
  decideReservation,
  evolveReservation,
  type Reservation,
  type ReservationCommand,
  type ReservationStatus,
  shouldVoid,
  stockDeltas,
} from './reservation.js';

export const INVENTORY_CONSUMER = 'inventory';

export function commandFor(event: DomainEvent): ReservationCommand | undefined {
  switch (event.type) {
    case 'OrderPlaced': {
      const { orderId, customerId, lines, totalCents } = event.data;
      return { type: 'Reserve', orderId, customerId, lines, totalCents };
    }
    case 'PaymentRefused':
      return { type: 'Release', orderId: event.data.orderId, reason: 'PAYMENT_REFUSED' };
    case 'OrderCancelled':
      return { type: 'Release', orderId: event.data.orderId, reason: 'ORDER_CANCELLED' };
    case 'SaleConfirmed':
      return { type: 'Commit', orderId: event.data.orderId };
    case 'SaleCancelled':
      return { type: 'Restock', orderId: event.data.orderId };
    default:
      return undefined;
  }
}

async function loadReservation(tx: Tx, orderId: string): Promise<Reservation> {
  const { rows } = await tx.query<{ status: ReservationStatus; lines: OrderLine[] }>(
    'SELECT status, lines FROM reservations WHERE order_id = $1 FOR UPDATE',
    [orderId],
  );
  const row = rows[0];
  return row ? { status: row.status, orderId, lines: row.lines } : { status: 'NONE' };
}

async function saveReservation(tx: Tx, orderId: string, status: ReservationStatus, lines: readonly OrderLine[]): Promise<void> {
  await tx.query(
    `INSERT INTO reservations (order_id, status, lines) VALUES ($1, $2, $3::jsonb)
     ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, lines = EXCLUDED.lines, updated_at = now()`,
    [orderId, status, JSON.stringify(lines)],
  );
}

export function inventoryConsumers(deps: ServiceDeps): ConsumerDefinition[] {
  return [
    {
      spec: {
        stream: EVENTS_STREAM,
        durable: INVENTORY_CONSUMER,
        filterSubjects: ['OrderPlaced', 'PaymentRefused', 'OrderCancelled', 'SaleConfirmed', 'SaleCancelled'].map(eventTypeFilter),
      },
      handle: async (event) => {
        const command = commandFor(event);
        if (!command) return;
        await withTransaction(deps.db, async (tx) => {
          if (!(await claimEvent(tx, INVENTORY_CONSUMER, event))) return;
          const reservation = await loadReservation(tx, command.orderId);
          if (shouldVoid(reservation, command)) {
            await saveReservation(tx, command.orderId, 'VOIDED', []);
            return;
          }
          const lines = command.type === 'Reserve' ? command.lines : reservation.status === 'NONE' ? [] : reservation.lines;
          const stock = await lockStock(tx, [...new Set(lines.map((line) => line.productId))]);
          const drafts = decideReservation(reservation, stock, command);
          if (drafts.length === 0) return;
          const next = drafts.reduce(evolveReservation, reservation);
          if (next.status === 'NONE') return;
          await saveReservation(tx, command.orderId, next.status, next.lines);
          await moveStock(tx, drafts.flatMap(stockDeltas));
          await enqueueEvents(tx, materialize(drafts, command.orderId, causedBy(event, deps, 'inventory-service')));
        });
      },
    },
  ];
}
