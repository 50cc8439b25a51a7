import { createEvent, type EventData, type EventType } from '@jetsaga/events';
import { givenReaction } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { deadlineReaction, replacementReaction, shipmentReaction, shipments } from './reactions.js';
import { replacementIdFor, type ShipmentEvent, shipmentIdFor } from './shipment.js';

const orderId = '0190a000-0000-7000-8000-000000000a01';
const customerId = '0190a000-0000-7000-8000-000000000a02';
const incidentId = '0190a000-0000-7000-8000-000000000a03';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000a04', quantity: 1, priceCents: 700 }];
const address = { line1: '10 Downing St', city: 'London', postalCode: 'SW1A 2AA', country: 'GB' };
const shipmentId = shipmentIdFor(orderId);
const ids = { shipmentId, orderId, customerId };
const meta = {
  id: '0190a000-0000-7000-8000-000000000a05',
  occurredAt: '2026-12-02T00:00:00Z',
  correlationId: orderId,
  causationId: 'x',
  actor: 'test',
};
const event = <T extends EventType>(type: T, data: EventData<T>) => createEvent(type, orderId, data, meta);
const created: ShipmentEvent = { type: 'ShipmentCreated', data: { ...ids, lines, address } };
const dispatched: ShipmentEvent = {
  type: 'ShipmentDispatched',
  data: { ...ids, carrier: 'DHL', trackingNumber: 'D1', deadlineAt: '2026-12-02T00:00:05Z' },
};
const lost: ShipmentEvent = { type: 'IncidentReported', data: { ...ids, incidentId, kind: 'LOST', description: '', automatic: false } };
const reshipRequested: ShipmentEvent = { type: 'ReshipmentRequested', data: { ...ids, incidentId, lines, note: 'again' } };
const shared = new Map([[orderId, { customerId, address }]]);

describe('shipping reactions', () => {
  it('open one parcel per confirmed sale, to the address the read model knows', () => {
    const sale = event('SaleConfirmed', { orderId, customerId, lines, totalCents: 700 });
    expect(givenReaction(shipmentReaction, { shared }).when(sale)).toMatchObject({ id: shipmentId, events: [created] });
    expect(givenReaction(shipmentReaction, { events: [created], shared }).when(sale)).toMatchObject({ events: [] });
  });

  it('ignore what asks nothing of a parcel (the address events only feed the read model)', () => {
    const registered = event('CustomerRegistered', { customerId, name: 'A', email: 'a@example.org', balanceCents: 0, address });
    expect(givenReaction(shipmentReaction).when(registered)).toEqual({ ignored: true });
    expect(givenReaction(replacementReaction).when(registered)).toEqual({ ignored: true });
  });

  it('call off a parcel not yet dispatched when its sale is cancelled', () => {
    const cancelled = event('SaleCancelled', { orderId, customerId, lines, totalCents: 700 });
    expect(givenReaction(shipmentReaction, { events: [created] }).when(cancelled)).toMatchObject({
      events: [{ type: 'ShipmentCancelled' }],
    });
  });

  it('leave a tombstone for a sale cancelled before its confirmation arrived, so the late confirmation opens no parcel', () => {
    const cancelled = event('SaleCancelled', { orderId, customerId, lines, totalCents: 700 });
    const outcome = givenReaction(shipmentReaction, { shared }).when(cancelled);
    expect(outcome).toMatchObject({ id: shipmentId, events: [], tombstoned: true, state: { status: 'VOIDED', id: shipmentId } });
    if (outcome.error || outcome.ignored) throw new Error('no outcome');
    const sale = event('SaleConfirmed', { orderId, customerId, lines, totalCents: 700 });
    expect(givenReaction(shipmentReaction, { state: outcome.state, shared }).when(sale)).toMatchObject({ events: [] });
  });

  it("resolve a reshipment's incident and open the replacement from inventory's one reservation", () => {
    const reserved = event('ReshipmentStockReserved', { shipmentId, incidentId, orderId, lines });
    const history = [created, dispatched, lost, reshipRequested];
    expect(givenReaction(shipmentReaction, { events: history }).when(reserved)).toMatchObject({
      id: shipmentId,
      events: [
        { type: 'IncidentResolved', data: { resolution: 'RESHIP', note: 'again', replacementShipmentId: replacementIdFor(incidentId) } },
      ],
    });
    const replacement = new Map([[shipmentId, { customerId, address }]]);
    expect(givenReaction(replacementReaction, { shared: replacement }).when(reserved)).toMatchObject({
      id: replacementIdFor(incidentId),
      events: [{ type: 'ShipmentCreated', data: { shipmentId: replacementIdFor(incidentId), replacesShipmentId: shipmentId, address } }],
    });
  });

  it('refund instead when inventory has no stock for the replacement', () => {
    const unavailable = event('ReshipmentStockUnavailable', { shipmentId, incidentId, orderId, lines, reason: 'OUT_OF_STOCK' });
    expect(givenReaction(shipmentReaction, { events: [created, dispatched, lost, reshipRequested] }).when(unavailable)).toMatchObject({
      events: [{ type: 'IncidentResolved', data: { resolution: 'REFUND', requested: 'RESHIP', reason: 'OUT_OF_STOCK', amountCents: 700 } }],
    });
  });

  it("record payment's answer to the refund of a parcel's incident, and ignore refunds that name no parcel", () => {
    const refundId = '0190a000-0000-7000-8000-000000000a06';
    const resolved: ShipmentEvent = {
      type: 'IncidentResolved',
      data: { ...ids, incidentId, resolution: 'REFUND', note: '', requested: 'REFUND', amountCents: 700 },
    };
    const history = [created, dispatched, lost, resolved];
    const refunded = event('PaymentRefunded', { orderId, customerId, amountCents: 700, refundId, shipmentId, incidentId });
    expect(givenReaction(shipmentReaction, { events: history }).when(refunded)).toMatchObject({
      events: [{ type: 'ShipmentRefunded', data: { refundId, amountCents: 700 } }],
      state: { status: 'REFUNDED' },
    });
    const rejected = event('RefundRejected', {
      orderId,
      customerId,
      amountCents: 700,
      refundId,
      shipmentId,
      incidentId,
      reason: 'EXCEEDS_PAYMENT',
    });
    expect(givenReaction(shipmentReaction, { events: history }).when(rejected)).toMatchObject({
      events: [{ type: 'ShipmentRefundRejected', data: { reason: 'EXCEEDS_PAYMENT' } }],
      state: { status: 'INCIDENT' },
    });
    const cancellation = event('PaymentRefunded', { orderId, customerId, amountCents: 700 });
    expect(givenReaction(shipmentReaction, { events: history }).when(cancellation)).toEqual({ ignored: true });
  });

  it('report a DELAYED incident when the delivery deadline fires on a parcel still in transit, once', () => {
    const fired = { deadlineId: incidentId, shipmentId, correlationId: orderId, causationId: 'x', deadlineAt: '2026-12-02T00:00:05Z' };
    const outcome = givenReaction(deadlineReaction, { events: [created, dispatched] }).when(fired);
    expect(outcome).toMatchObject({ events: [{ type: 'IncidentReported', data: { incidentId, kind: 'DELAYED', automatic: true } }] });
    if (outcome.error || outcome.ignored) throw new Error('no outcome');
    expect(givenReaction(deadlineReaction, { state: outcome.state }).when(fired)).toMatchObject({ events: [] });
  });

  it('set the delivery deadline on dispatch and remove it on delivery', () => {
    const [dispatchEvent] = [createEvent('ShipmentDispatched', shipmentId, dispatched.data as EventData<'ShipmentDispatched'>, meta)];
    const [timer] = shipments.messages!({ id: shipmentId, state: { status: 'NONE' }, events: [dispatchEvent], meta }, () => incidentId);
    expect(timer).toMatchObject({
      subject: `deadlines.shipment.${shipmentId}.schedule`,
      headers: { 'Nats-Schedule': '@at 2026-12-02T00:00:05Z', 'Nats-Schedule-Target': `deadlines.shipment.${shipmentId}.fired` },
    });
    const deliveredEvent = createEvent('ShipmentDelivered', shipmentId, ids, meta);
    const [purge] = shipments.messages!({ id: shipmentId, state: { status: 'NONE' }, events: [deliveredEvent], meta }, () => incidentId);
    expect(purge).toMatchObject({ headers: { 'Nats-Schedule-Next': 'purge' } });
  });
});
