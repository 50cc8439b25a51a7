import { createEvent, type EventData, type EventType } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import { foldFulfilments, type SequencedEvent } from './projection.js';

const orderId = '0190a000-0000-7000-8000-000000000c01';
const customerId = '0190a000-0000-7000-8000-000000000c02';
const shipmentId = '0190a000-0000-7000-8000-000000000c03';
const replacementId = '0190a000-0000-7000-8000-000000000c04';
const incidentId = '0190a000-0000-7000-8000-000000000c05';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000c06', quantity: 1, priceCents: 100 }];
let sequence = 0;
const at = <T extends EventType>(type: T, data: EventData<T>): SequencedEvent => ({
  event: createEvent(type, shipmentId, data, {
    id: '0190a000-0000-7000-8000-000000000c07',
    occurredAt: '2026-12-02T00:00:00Z',
    correlationId: orderId,
    causationId: 'x',
    actor: 'test',
  }),
  sequence: ++sequence,
});
const ids = { shipmentId, orderId, customerId };
const fulfilmentAfter = (events: SequencedEvent[]) => foldFulfilments(new Map(), events).get(orderId)?.fulfilment;
const created = () => at('ShipmentCreated', { ...ids, lines });
const dispatched = () => at('ShipmentDispatched', { ...ids, carrier: 'c', trackingNumber: 't', deadlineAt: '2026-12-02T00:00:05Z' });
const reported = () => at('IncidentReported', { ...ids, incidentId, kind: 'LOST', description: '', automatic: false });
const resolved = (resolution: 'RESHIP' | 'REFUND' | 'NONE') =>
  at('IncidentResolved', { ...ids, incidentId, resolution, note: '', requested: resolution, amountCents: 0 });

describe("an order's fulfilment", () => {
  it('follows its parcel: PENDING, DISPATCHED, DELIVERED', () => {
    expect(fulfilmentAfter([created()])).toBe('PENDING');
    expect(fulfilmentAfter([created(), dispatched()])).toBe('DISPATCHED');
    expect(fulfilmentAfter([created(), dispatched(), at('ShipmentDelivered', ids)])).toBe('DELIVERED');
  });

  it('is INCIDENT while an incident is open, and goes back where it was when it is resolved NONE', () => {
    expect(fulfilmentAfter([created(), dispatched(), reported()])).toBe('INCIDENT');
    expect(fulfilmentAfter([created(), dispatched(), reported(), resolved('NONE')])).toBe('DISPATCHED');
  });

  it('is REFUNDED once payment refunded its parcel, and follows the replacement after a RESHIP', () => {
    const refunded = () => at('ShipmentRefunded', { ...ids, incidentId, refundId: incidentId, amountCents: 100 });
    expect(fulfilmentAfter([created(), dispatched(), reported(), resolved('REFUND'), refunded()])).toBe('REFUNDED');
    const replacement = () => at('ShipmentCreated', { ...ids, shipmentId: replacementId, lines, replacesShipmentId: shipmentId });
    const rows = foldFulfilments(new Map(), [created(), dispatched(), reported(), resolved('RESHIP'), replacement()]);
    expect(rows.get(orderId)).toMatchObject({ shipmentId: replacementId, fulfilment: 'PENDING' });
  });

  it('ignores an event it has applied already (a redelivery)', () => {
    const first = created();
    const moved = dispatched();
    const rows = foldFulfilments(new Map(), [first, moved]);
    expect(foldFulfilments(rows, [first, moved]).size).toBe(0);
  });
});
