import { createEvent, type DomainEvent, type EventData, type EventType, uuidv7 } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import { shipmentFold } from '../state/folds.js';
import { applyInMemory, rowsOf } from './ops.js';
import { shipmentsByStatus } from './shipping.js';

const correlationId = uuidv7();
const orderId = uuidv7();
const customerId = uuidv7();
const shipmentId = uuidv7();
const replacementId = uuidv7();
const incidentId = uuidv7();
const lines = [{ productId: uuidv7(), quantity: 1, priceCents: 800 }];
const ids = { shipmentId, orderId, customerId };
const event = <T extends EventType>(type: T, data: EventData<T>, aggregateId = shipmentId): DomainEvent =>
  createEvent(type, aggregateId, data, {
    id: uuidv7(),
    occurredAt: '2026-12-02T10:00:00.000Z',
    correlationId,
    causationId: 't',
    actor: 't',
  });

const created = event('ShipmentCreated', { ...ids, lines });
const dispatched = event('ShipmentDispatched', { ...ids, carrier: 'DHL', trackingNumber: 'D1', deadlineAt: '2026-12-05T10:00:00Z' });
const delivered = event('ShipmentDelivered', ids);
const damaged = event('IncidentReported', { ...ids, incidentId, kind: 'DAMAGED', description: 'crushed', automatic: false });
const resolved = (resolution: 'RESHIP' | 'REFUND' | 'NONE') =>
  event('IncidentResolved', {
    ...ids,
    incidentId,
    resolution,
    note: '',
    requested: resolution,
    amountCents: resolution === 'REFUND' ? 800 : 0,
  });
const rows = (events: DomainEvent[]) =>
  rowsOf(
    applyInMemory(
      new Map(),
      events.flatMap((e) => shipmentsByStatus.project(e)),
    ),
    'shipments',
  );

describe('shipments by status: given these events, expect these rows', () => {
  it('follow a parcel from its creation to its delivery, with its carrier', () => {
    expect(rows([created, dispatched, delivered])).toEqual([
      expect.objectContaining({ shipment_id: shipmentId, order_id: orderId, status: 'DELIVERED', carrier: 'DHL', tracking_number: 'D1' }),
    ]);
  });

  it('count incidents; a NONE resolution leaves the status to the times (back where it was), a refund ends REFUNDED', () => {
    expect(rows([created, dispatched, delivered, damaged, resolved('NONE')])).toEqual([
      expect.objectContaining({ status: null, incidents: 1, delivered_at: '2026-12-02T10:00:00.000Z' }),
    ]);
    const refunded = event('ShipmentRefunded', { ...ids, incidentId, refundId: uuidv7(), amountCents: 800 });
    expect(rows([created, dispatched, damaged, resolved('REFUND'), refunded])).toEqual([
      expect.objectContaining({ status: 'REFUNDED', refunded_cents: 800 }),
    ]);
  });

  it('mark a reshipped parcel REPLACED and open a row for its replacement', () => {
    const replacement = event(
      'ShipmentCreated',
      { ...ids, shipmentId: replacementId, lines, replacesShipmentId: shipmentId },
      replacementId,
    );
    const byId = new Map(rows([created, dispatched, damaged, resolved('RESHIP'), replacement]).map((row) => [row.shipment_id, row]));
    expect(byId.get(shipmentId)).toMatchObject({ status: 'REPLACED' });
    expect(byId.get(replacementId)).toMatchObject({ status: 'CREATED', replaces_shipment_id: shipmentId });
  });
});

describe("a shipment's state rebuilt from its events", () => {
  it('is the parcel as its API shows it: status, carrier, incidents and their refund', () => {
    const state = [created, dispatched, damaged, resolved('REFUND')].reduce(shipmentFold.apply, shipmentFold.initial);
    expect(state).toMatchObject({
      id: shipmentId,
      status: 'INCIDENT',
      carrier: 'DHL',
      incidents: [
        { incidentId, kind: 'DAMAGED', status: 'RESOLVED', resolution: 'REFUND', refund: { status: 'PENDING', amountCents: 800 } },
      ],
    });
    expect([created, dispatched, damaged, resolved('NONE')].reduce(shipmentFold.apply, shipmentFold.initial)?.status).toBe('DISPATCHED');
  });
});
