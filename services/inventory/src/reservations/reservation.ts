import type { EventDraft, OrderLine } from '@jetsaga/events';

export type ReservationStatus = 'RESERVED' | 'REJECTED' | 'RELEASED' | 'COMMITTED' | 'RESTOCKED' | 'VOIDED';

/**
 * A reservation per order. VOIDED is a tombstone: the order was cancelled before its OrderPlaced was handled
 * (a delayed redelivery), so a late OrderPlaced must not reserve anything.
 */
export type Reservation = { status: 'NONE' } | { status: ReservationStatus; orderId: string; lines: OrderLine[] };

export type StockLevel = { available: number; reserved: number };
export type StockLevels = ReadonlyMap<string, StockLevel>;

export type ReservationCommand =
  | { type: 'Reserve'; orderId: string; customerId: string; lines: OrderLine[]; totalCents: number }
  | { type: 'Release'; orderId: string; reason: 'PAYMENT_REFUSED' | 'ORDER_CANCELLED' }
  | { type: 'Commit'; orderId: string }
  | { type: 'Restock'; orderId: string };

export type ReservationEvent = EventDraft<'StockReserved' | 'StockUnavailable' | 'StockReleased' | 'StockCommitted' | 'StockRestocked'>;

/** Quantities per product; an order naming a product twice needs the sum of both lines. */
export function quantitiesByProduct(lines: readonly OrderLine[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of lines) totals.set(line.productId, (totals.get(line.productId) ?? 0) + line.quantity);
  return totals;
}

/** All or nothing: every line is reserved, or none is and the shortages are reported. */
export function decideReservation(state: Reservation, stock: StockLevels, command: ReservationCommand): ReservationEvent[] {
  switch (command.type) {
    case 'Reserve': {
      if (state.status !== 'NONE') return [];
      const shortages = [...quantitiesByProduct(command.lines)]
        .map(([productId, requested]) => ({ productId, requested, available: stock.get(productId)?.available ?? 0 }))
        .filter((line) => line.available < line.requested);
      if (shortages.length > 0) return [{ type: 'StockUnavailable', data: { orderId: command.orderId, shortages } }];
      const { orderId, customerId, lines, totalCents } = command;
      return [{ type: 'StockReserved', data: { orderId, customerId, lines, totalCents } }];
    }
    case 'Release':
      if (state.status !== 'RESERVED') return [];
      return [{ type: 'StockReleased', data: { orderId: command.orderId, lines: state.lines, reason: command.reason } }];
    case 'Commit':
      if (state.status !== 'RESERVED') return [];
      return [{ type: 'StockCommitted', data: { orderId: command.orderId, lines: state.lines } }];
    case 'Restock':
      // Only units that left with a cancelled sale come back; a reservation released earlier already did.
      if (state.status !== 'COMMITTED') return [];
      return [{ type: 'StockRestocked', data: { orderId: command.orderId, lines: state.lines } }];
    default: {
      const unknown: never = command;
      throw new Error(`unknown reservation command ${JSON.stringify(unknown)}`);
    }
  }
}

export function evolveReservation(state: Reservation, event: ReservationEvent): Reservation {
  switch (event.type) {
    case 'StockReserved':
      return { status: 'RESERVED', orderId: event.data.orderId, lines: event.data.lines };
    case 'StockUnavailable':
      return { status: 'REJECTED', orderId: event.data.orderId, lines: state.status === 'NONE' ? [] : state.lines };
    case 'StockReleased':
      return { status: 'RELEASED', orderId: event.data.orderId, lines: event.data.lines };
    case 'StockCommitted':
      return { status: 'COMMITTED', orderId: event.data.orderId, lines: event.data.lines };
    case 'StockRestocked':
      return { status: 'RESTOCKED', orderId: event.data.orderId, lines: event.data.lines };
    default: {
      const unknown: never = event;
      throw new Error(`unknown reservation event ${JSON.stringify(unknown)}`);
    }
  }
}

/** How each event moves stock between available, reserved and gone (sold). */
export function stockDeltas(event: ReservationEvent): Array<{ productId: string; available: number; reserved: number }> {
  switch (event.type) {
    case 'StockReserved':
      return [...quantitiesByProduct(event.data.lines)].map(([productId, q]) => ({ productId, available: -q, reserved: q }));
    case 'StockReleased':
      return [...quantitiesByProduct(event.data.lines)].map(([productId, q]) => ({ productId, available: q, reserved: -q }));
    case 'StockCommitted':
      return [...quantitiesByProduct(event.data.lines)].map(([productId, q]) => ({ productId, available: 0, reserved: -q }));
    case 'StockRestocked':
      return [...quantitiesByProduct(event.data.lines)].map(([productId, q]) => ({ productId, available: q, reserved: 0 }));
    case 'StockUnavailable':
      return [];
    default: {
      const unknown: never = event;
      throw new Error(`unknown reservation event ${JSON.stringify(unknown)}`);
    }
  }
}
