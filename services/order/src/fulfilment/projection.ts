import type { DomainEvent } from '@jetsaga/events';

/** What a client sees of an order's parcel: none yet, being prepared, on its way, arrived, in trouble, refunded. */
export type Fulfilment = 'NONE' | 'PENDING' | 'DISPATCHED' | 'DELIVERED' | 'INCIDENT' | 'REFUNDED';

/** The shipping events the order's fulfilment follows. */
export const FULFILMENT_EVENT_TYPES = [
  'ShipmentCreated',
  'ShipmentCancelled',
  'ShipmentDispatched',
  'ShipmentDelivered',
  'IncidentReported',
  'IncidentResolved',
  'ShipmentRefunded',
] as const;

/** The order's live parcel and how far it got; `resumes` is where an incident resolved NONE puts it back. */
export type FulfilmentRow = { orderId: string; shipmentId: string; fulfilment: Fulfilment; resumes: Fulfilment; sequence: number };

export type SequencedEvent = { event: DomainEvent; sequence: number };

/**
 * Pure: a row after one event. An event at or below the row's sequence was applied already (redelivery, replay). Only
 * the live parcel moves the row: the sale's, then the replacement that replaced it.
 */
export function applyFulfilment(row: FulfilmentRow | undefined, { event, sequence }: SequencedEvent): FulfilmentRow | undefined {
  if (row && sequence <= row.sequence) return row;
  if (event.type === 'ShipmentCreated') {
    const { orderId, shipmentId, replacesShipmentId } = event.data;
    const live = !row || row.shipmentId === shipmentId || replacesShipmentId === row.shipmentId;
    return live ? { orderId, shipmentId, fulfilment: 'PENDING', resumes: 'PENDING', sequence } : row;
  }
  if (!row || !('shipmentId' in event.data) || event.data.shipmentId !== row.shipmentId) return row;
  const to = (fulfilment: Fulfilment, resumes = row.resumes): FulfilmentRow => ({ ...row, fulfilment, resumes, sequence });
  switch (event.type) {
    case 'ShipmentCancelled':
      return to('NONE');
    case 'ShipmentDispatched':
      return to('DISPATCHED');
    case 'ShipmentDelivered':
      return to('DELIVERED');
    case 'IncidentReported':
      return to('INCIDENT', row.fulfilment === 'INCIDENT' ? row.resumes : row.fulfilment);
    case 'IncidentResolved':
      // A replacement's ShipmentCreated moves the row on; a refund waits for payment's answer.
      return event.data.resolution === 'NONE' ? to(row.resumes) : to('INCIDENT');
    case 'ShipmentRefunded':
      return to('REFUNDED');
    default:
      return { ...row, sequence };
  }
}

/** The rows a batch changes, folded in stream order over the rows it started from. */
export function foldFulfilments(start: ReadonlyMap<string, FulfilmentRow>, events: readonly SequencedEvent[]): Map<string, FulfilmentRow> {
  const rows = new Map(start);
  const changed = new Map<string, FulfilmentRow>();
  for (const sequenced of events) {
    const orderId = (sequenced.event.data as { orderId?: string }).orderId;
    if (!orderId) continue;
    const next = applyFulfilment(rows.get(orderId), sequenced);
    if (next && next !== rows.get(orderId)) {
      rows.set(orderId, next);
      changed.set(orderId, next);
    }
  }
  return changed;
}
