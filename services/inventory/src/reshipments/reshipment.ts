import type { EventDraft, OrderLine } from '@jetsaga/events';
import { quantitiesByProduct, type StockLevels } from '../reservations/reservation.js';

/**
 * The stock of a replacement parcel (one per incident resolved RESHIP): all of its lines leave available stock at once,
 * since the parcel is packed as soon as it is opened, or none does and shipping refunds instead.
 */
export type Reshipment =
  { status: 'NONE' } | { status: 'RESERVED' | 'UNAVAILABLE'; incidentId: string; shipmentId: string; orderId: string; lines: OrderLine[] };

export type ReserveReshipment = { type: 'ReserveReshipment'; incidentId: string; shipmentId: string; orderId: string; lines: OrderLine[] };

export type ReshipmentEvent = EventDraft<'ReshipmentStockReserved' | 'ReshipmentStockUnavailable'>;

export function decideReshipment(state: Reshipment, stock: StockLevels, command: ReserveReshipment): ReshipmentEvent[] {
  if (state.status !== 'NONE') return [];
  const { incidentId, shipmentId, orderId, lines } = command;
  const shortages = [...quantitiesByProduct(lines)]
    .map(([productId, requested]) => ({ productId, requested, available: stock.get(productId)?.available ?? 0 }))
    .filter((line) => line.available < line.requested);
  if (shortages.length > 0) {
    return [{ type: 'ReshipmentStockUnavailable', data: { shipmentId, incidentId, orderId, lines, reason: 'OUT_OF_STOCK', shortages } }];
  }
  return [{ type: 'ReshipmentStockReserved', data: { shipmentId, incidentId, orderId, lines } }];
}

export function evolveReshipment(_state: Reshipment, event: ReshipmentEvent): Reshipment {
  const { incidentId, shipmentId, orderId, lines } = event.data;
  switch (event.type) {
    case 'ReshipmentStockReserved':
      return { status: 'RESERVED', incidentId, shipmentId, orderId, lines };
    case 'ReshipmentStockUnavailable':
      return { status: 'UNAVAILABLE', incidentId, shipmentId, orderId, lines };
    default: {
      const unknown: never = event;
      throw new Error(`unknown reshipment event ${JSON.stringify(unknown)}`);
    }
  }
}

/** A replacement's units leave available stock for good (they are counted as sold with it). */
export function reshipmentDeltas(event: ReshipmentEvent): Array<{ productId: string; available: number; reserved: number }> {
  if (event.type !== 'ReshipmentStockReserved') return [];
  return [...quantitiesByProduct(event.data.lines)].map(([productId, q]) => ({ productId, available: -q, reserved: 0 }));
}
