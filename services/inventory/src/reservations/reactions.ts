import { type DomainEvent, EVENTS_STREAM, eventTypeFilter } from '@jetsaga/events';
import { type Addressed, type CommandHandler, type Reaction, reactionConsumers } from '@jetsaga/platform';
import { lockStock, moveStock } from '../products/store.js';
import {
  decideReservation,
  evolveReservation,
  type Reservation,
  type ReservationCommand,
  type ReservationEvent,
  type StockLevels,
  stockDeltas,
} from './reservation.js';
import { loadReservations, saveReservations } from './store.js';

export const INVENTORY_CONSUMER = 'inventory';

export function commandFor(event: DomainEvent): Addressed<ReservationCommand> | undefined {
  const command = reservationCommand(event);
  return command && { id: command.orderId, command };
}

function reservationCommand(event: DomainEvent): ReservationCommand | undefined {
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

/** The products a command's rules read: those it reserves, or those its reservation holds. */
function productsOf(command: ReservationCommand, state: Reservation): string[] {
  const lines = command.type === 'Reserve' ? command.lines : state.status === 'NONE' ? [] : state.lines;
  return lines.map((line) => line.productId);
}

/** Reservations per order, deciding over the stock levels of their products (shared by every order of a batch). */
export const reservations: CommandHandler<Reservation, ReservationCommand, ReservationEvent, StockLevels> = {
  initialState: { status: 'NONE' },
  load: loadReservations,
  decide: (state, command, stock) => decideReservation(state, stock, command),
  evolve: evolveReservation,
  shared: {
    load: (tx, commands) => lockStock(tx, [...new Set(commands.flatMap(({ command, state }) => productsOf(command, state)))]),
    evolve: (stock, event) => {
      const next = new Map(stock);
      for (const delta of stockDeltas(event)) {
        const level = next.get(delta.productId) ?? { available: 0, reserved: 0 };
        next.set(delta.productId, { available: level.available + delta.available, reserved: level.reserved + delta.reserved });
      }
      return next;
    },
  },
  async save(tx, changes) {
    await saveReservations(tx, changes);
    await moveStock(
      tx,
      changes.flatMap((change) => change.events.flatMap((event) => stockDeltas(event as unknown as ReservationEvent))),
    );
  },
  tombstone: {
    cancels: (command) => command.type === 'Release',
    state: (orderId) => ({ status: 'VOIDED', orderId, lines: [] }),
  },
};

export const inventoryReaction: Reaction<DomainEvent, Reservation, ReservationCommand> = {
  spec: {
    stream: EVENTS_STREAM,
    durable: INVENTORY_CONSUMER,
    filterSubjects: ['OrderPlaced', 'PaymentRefused', 'OrderCancelled', 'SaleConfirmed', 'SaleCancelled'].map(eventTypeFilter),
  },
  react: commandFor,
  actor: 'inventory-service',
  handler: reservations,
};

/** The consumers this slice runs. */
export const inventoryConsumers = reactionConsumers(inventoryReaction);
