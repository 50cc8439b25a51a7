import { type Decider, given } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import {
  type Destinations,
  decideShipment,
  evolveShipment,
  initialShipment,
  replacementIdFor,
  type Shipment,
  type ShipmentCommand,
  type ShipmentEvent,
  shipmentIdFor,
} from './shipment.js';

const orderId = '0190a000-0000-7000-8000-000000000901';
const customerId = '0190a000-0000-7000-8000-000000000902';
const incidentId = '0190a000-0000-7000-8000-000000000903';
const refundId = '0190a000-0000-7000-8000-000000000904';
const lines = [
  { productId: '0190a000-0000-7000-8000-000000000905', quantity: 2, priceCents: 1250 },
  { productId: '0190a000-0000-7000-8000-000000000906', quantity: 1, priceCents: 999 },
];
const address = { line1: '1 rue de la Paix', city: 'Paris', postalCode: '75002', country: 'FR' };
const shipmentId = shipmentIdFor(orderId);
const ids = { shipmentId, orderId, customerId };
const deadlineAt = '2026-12-02T10:00:00Z';

const withDestinations = (destinations: Destinations): Decider<Shipment, ShipmentCommand, ShipmentEvent> => ({
  initialState: initialShipment,
  decide: (state, command) => decideShipment(state, command, destinations),
  evolve: evolveShipment,
});
const parcel = withDestinations(new Map([[orderId, { customerId, address }]]));

const created: ShipmentEvent = { type: 'ShipmentCreated', data: { ...ids, lines, address } };
const dispatched: ShipmentEvent = {
  type: 'ShipmentDispatched',
  data: { ...ids, carrier: 'La Poste', trackingNumber: 'LP123', deadlineAt },
};
const delivered: ShipmentEvent = { type: 'ShipmentDelivered', data: ids };
const lost: ShipmentEvent = {
  type: 'IncidentReported',
  data: { ...ids, incidentId, kind: 'LOST', description: 'not found', automatic: false },
};
const reshipRequested: ShipmentEvent = { type: 'ReshipmentRequested', data: { ...ids, incidentId, lines, note: 'sorry' } };
const refundResolved: ShipmentEvent = {
  type: 'IncidentResolved',
  data: { ...ids, incidentId, resolution: 'REFUND', note: 'sorry', requested: 'REFUND', amountCents: 3499 },
};

const open: ShipmentCommand = { type: 'OpenShipment', shipmentId, orderId, customerId, lines };
const dispatch: ShipmentCommand = { type: 'Dispatch', carrier: 'La Poste', trackingNumber: 'LP123', deadlineAt };
const report = (kind: 'LOST' | 'DAMAGED' | 'DELAYED', automatic = false) => ({
  type: 'ReportIncident' as const,
  incidentId,
  kind,
  description: 'not found',
  automatic,
});
const resolve = (resolution: 'RESHIP' | 'REFUND' | 'NONE'): ShipmentCommand => ({
  type: 'ResolveIncident',
  incidentId,
  resolution,
  note: 'sorry',
});

const statusAfter = (history: ShipmentEvent[]) => given(parcel, history).state.status;

describe('a parcel', () => {
  it('is opened once per sale, to the address its destination names, under an id its order always gives', () => {
    expect(shipmentIdFor(orderId)).toBe(shipmentId);
    expect(shipmentId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(given(parcel, []).when(open).events).toEqual([created]);
    expect(given(parcel, [created]).when(open).events).toEqual([]);
  });

  it('is opened without an address when neither the checkout nor the customer gave one, and cannot be dispatched', () => {
    const nowhere = withDestinations(new Map());
    const [bare] = given(nowhere, []).when(open).events ?? [];
    expect(bare).toEqual({ type: 'ShipmentCreated', data: { ...ids, lines } });
    expect(given(nowhere, [bare!]).when(dispatch).error).toMatchObject({ status: 409, message: expect.stringMatching(/no address/) });
  });

  it('is dispatched with its carrier, tracking number and delivery deadline, once', () => {
    expect(given(parcel, [created]).when(dispatch).events).toEqual([dispatched]);
    expect(statusAfter([created, dispatched])).toBe('DISPATCHED');
    expect(given(parcel, [created, dispatched]).when(dispatch).error).toMatchObject({ status: 409 });
  });

  it('is delivered only once dispatched', () => {
    expect(given(parcel, [created, dispatched]).when({ type: 'Deliver' }).events).toEqual([delivered]);
    expect(given(parcel, [created]).when({ type: 'Deliver' }).error).toMatchObject({ status: 409 });
    expect(given(parcel, [created, dispatched, delivered]).when({ type: 'Deliver' }).error).toMatchObject({ status: 409 });
  });

  it('does not exist for a request naming an unknown id (404)', () => {
    expect(given(parcel, []).when(dispatch).error).toMatchObject({ status: 404 });
  });

  it('gets an incident in transit (LOST, DAMAGED, DELAYED) or DAMAGED on delivery, one open at a time', () => {
    expect(given(parcel, [created, dispatched]).when(report('LOST')).events).toEqual([lost]);
    expect(statusAfter([created, dispatched, lost])).toBe('INCIDENT');
    expect(given(parcel, [created, dispatched, delivered]).when(report('DAMAGED')).events).toMatchObject([{ type: 'IncidentReported' }]);
    expect(given(parcel, [created, dispatched, delivered]).when(report('LOST')).error).toMatchObject({ status: 409 });
    expect(given(parcel, [created]).when(report('DAMAGED')).error).toMatchObject({ status: 409 });
    const second = { ...report('DAMAGED'), incidentId: refundId };
    expect(given(parcel, [created, dispatched, lost]).when(second).error).toMatchObject({ status: 409 });
  });

  it('gets a DELAYED incident by itself at its deadline, unless it was delivered or is in trouble already', () => {
    expect(given(parcel, [created, dispatched]).when(report('DELAYED', true)).events).toMatchObject([
      { type: 'IncidentReported', data: { kind: 'DELAYED', automatic: true } },
    ]);
    expect(given(parcel, [created, dispatched, delivered]).when(report('DELAYED', true)).events).toEqual([]);
    expect(given(parcel, [created, dispatched, lost]).when({ ...report('DELAYED', true), incidentId: refundId }).events).toEqual([]);
    expect(given(parcel, []).when(report('DELAYED', true)).events).toEqual([]);
  });

  it('resolved NONE goes back where it was', () => {
    const events = given(parcel, [created, dispatched, lost]).when(resolve('NONE')).events!;
    expect(events).toEqual([
      { type: 'IncidentResolved', data: { ...ids, incidentId, resolution: 'NONE', note: 'sorry', requested: 'NONE', amountCents: 0 } },
    ]);
    expect(statusAfter([created, dispatched, lost, ...events])).toBe('DISPATCHED');
    expect(given(parcel, [created, dispatched, lost, ...events]).when(resolve('NONE')).error).toMatchObject({ status: 409 });
  });

  it('resolved REFUND asks for the value of its lines, and is REFUNDED once payment gave it back', () => {
    expect(given(parcel, [created, dispatched, lost]).when(resolve('REFUND')).events).toEqual([refundResolved]);
    const history = [created, dispatched, lost, refundResolved];
    expect(given(parcel, history).state).toMatchObject({
      status: 'INCIDENT',
      incidents: [{ refund: { status: 'PENDING', amountCents: 3499 } }],
    });
    const refunded = given(parcel, history).when({ type: 'RecordRefund', incidentId, refundId, amountCents: 3499 }).events!;
    expect(refunded).toEqual([{ type: 'ShipmentRefunded', data: { ...ids, incidentId, refundId, amountCents: 3499 } }]);
    expect(given(parcel, [...history, ...refunded]).state).toMatchObject({
      status: 'REFUNDED',
      incidents: [{ refund: { status: 'REFUNDED' } }],
    });
    expect(given(parcel, [...history, ...refunded]).when({ type: 'RecordRefund', incidentId, refundId, amountCents: 3499 }).events).toEqual(
      [],
    );
  });

  it('keeps its incident, showing the refusal, when payment rejects the refund', () => {
    const history = [created, dispatched, lost, refundResolved];
    const command = { type: 'RecordRefundRejected', incidentId, refundId, amountCents: 3499, reason: 'EXCEEDS_PAYMENT' } as const;
    const rejected = given(parcel, history).when(command).events!;
    expect(rejected).toEqual([
      { type: 'ShipmentRefundRejected', data: { ...ids, incidentId, refundId, amountCents: 3499, reason: 'EXCEEDS_PAYMENT' } },
    ]);
    expect(given(parcel, [...history, ...rejected]).state).toMatchObject({
      status: 'INCIDENT',
      incidents: [{ refund: { status: 'REJECTED', reason: 'EXCEEDS_PAYMENT' } }],
    });
  });

  it('resolved RESHIP asks inventory for its lines again, then is REPLACED by the parcel the reservation opens', () => {
    expect(given(parcel, [created, dispatched, lost]).when(resolve('RESHIP')).events).toEqual([reshipRequested]);
    const history = [created, dispatched, lost, reshipRequested];
    expect(given(parcel, history).state).toMatchObject({ status: 'INCIDENT', incidents: [{ status: 'RESHIP_REQUESTED' }] });
    expect(given(parcel, history).when(resolve('REFUND')).error).toMatchObject({ status: 409 });
    const confirmed = given(parcel, history).when({ type: 'ConfirmReshipment', incidentId }).events!;
    expect(confirmed).toEqual([
      {
        type: 'IncidentResolved',
        data: {
          ...ids,
          incidentId,
          resolution: 'RESHIP',
          note: 'sorry',
          requested: 'RESHIP',
          amountCents: 0,
          replacementShipmentId: replacementIdFor(incidentId),
        },
      },
    ]);
    expect(statusAfter([...history, ...confirmed])).toBe('REPLACED');
    expect(given(parcel, [...history, ...confirmed]).when({ type: 'ConfirmReshipment', incidentId }).events).toEqual([]);
  });

  it('resolved RESHIP becomes a REFUND (reason OUT_OF_STOCK) when inventory has no stock for the replacement', () => {
    const history = [created, dispatched, lost, reshipRequested];
    expect(given(parcel, history).when({ type: 'RefuseReshipment', incidentId }).events).toEqual([
      {
        type: 'IncidentResolved',
        data: { ...ids, incidentId, resolution: 'REFUND', note: 'sorry', requested: 'RESHIP', amountCents: 3499, reason: 'OUT_OF_STOCK' },
      },
    ]);
    expect(given(parcel, [created, dispatched, lost]).when({ type: 'RefuseReshipment', incidentId }).events).toEqual([]);
  });

  it('replacement: opened for the customer and address of the parcel it replaces', () => {
    const replacementId = replacementIdFor(incidentId);
    const replacements = withDestinations(new Map([[shipmentId, { customerId, address }]]));
    const command = { type: 'OpenShipment', shipmentId: replacementId, orderId, lines, replacesShipmentId: shipmentId } as const;
    expect(given(replacements, []).when(command).events).toEqual([
      { type: 'ShipmentCreated', data: { shipmentId: replacementId, orderId, customerId, lines, address, replacesShipmentId: shipmentId } },
    ]);
  });

  it('is called off when its sale is cancelled before it left, and not after', () => {
    expect(given(parcel, [created]).when({ type: 'CancelShipment' }).events).toEqual([
      { type: 'ShipmentCancelled', data: { ...ids, reason: 'SALE_CANCELLED' } },
    ]);
    expect(given(parcel, [created, dispatched]).when({ type: 'CancelShipment' }).events).toEqual([]);
    expect(given(parcel, []).when({ type: 'CancelShipment' }).events).toEqual([]);
  });
});
