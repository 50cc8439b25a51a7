import { DEADLINES_STREAM, type DomainEvent, EVENTS_STREAM, eventTypeFilter } from '@jetsaga/events';
import { type Addressed, type CommandHandler, type ConsumerDefinition, type Reaction, reactor, type ServiceDeps } from '@jetsaga/platform';
import { addressRows, DESTINATION_EVENT_TYPES, saveAddressRows } from '../destinations/projection.js';
import { cancelDeadline, type DeliveryDeadline, deadlineMessage, decodeDeadline } from './deadlines.js';
import { recordShipmentEvents } from './metrics.js';
import {
  decideShipment,
  type Destinations,
  evolveShipment,
  initialShipment,
  replacementIdFor,
  type Shipment,
  type ShipmentCommand,
  type ShipmentEvent,
  shipmentIdFor,
} from './shipment.js';
import { loadDestinations, loadShipments, saveShipments } from './store.js';

export const SHIPPING_CONSUMER = 'shipping';
export const SHIPPING_DEADLINES_CONSUMER = 'shipping-deadlines';
/** The inbox name of the replacement parcels opened from the shipping consumer's messages (no consumer of its own). */
export const SHIPPING_REPLACEMENTS_INBOX = 'shipping-replacements';

/** What the parcel a message is about must do. */
export function commandFor(event: DomainEvent): Addressed<ShipmentCommand> | undefined {
  switch (event.type) {
    case 'SaleConfirmed': {
      const { orderId, customerId, lines } = event.data;
      const shipmentId = shipmentIdFor(orderId);
      return { id: shipmentId, command: { type: 'OpenShipment', shipmentId, orderId, customerId, lines } };
    }
    case 'SaleCancelled':
      return { id: shipmentIdFor(event.data.orderId), command: { type: 'CancelShipment' } };
    case 'ReshipmentStockReserved':
      return { id: event.data.shipmentId, command: { type: 'ConfirmReshipment', incidentId: event.data.incidentId } };
    case 'ReshipmentStockUnavailable':
      return { id: event.data.shipmentId, command: { type: 'RefuseReshipment', incidentId: event.data.incidentId } };
    case 'PaymentRefunded': {
      // Only a refund an incident of a parcel asked for; a cancellation's refund or a complaint's names no parcel.
      const { shipmentId, incidentId, refundId, amountCents } = event.data;
      if (!shipmentId || !refundId) return undefined;
      return { id: shipmentId, command: { type: 'RecordRefund', refundId, amountCents, ...(incidentId ? { incidentId } : {}) } };
    }
    case 'RefundRejected': {
      const { shipmentId, incidentId, refundId, amountCents, reason } = event.data;
      if (!shipmentId) return undefined;
      return {
        id: shipmentId,
        command: { type: 'RecordRefundRejected', refundId, amountCents, reason, ...(incidentId ? { incidentId } : {}) },
      };
    }
    default:
      return undefined;
  }
}

/** The replacement parcel inventory's reservation opens (the same message resolves the old parcel's incident). */
export function replacementFor(event: DomainEvent): Addressed<ShipmentCommand> | undefined {
  if (event.type !== 'ReshipmentStockReserved') return undefined;
  const { shipmentId, incidentId, orderId, lines } = event.data;
  const id = replacementIdFor(incidentId);
  return { id, command: { type: 'OpenShipment', shipmentId: id, orderId, lines, replacesShipmentId: shipmentId } };
}

/**
 * Parcels: opened by a sale or a reservation for a replacement, moved by requests, reactions and their deadline. A
 * dispatch sets the delivery deadline; a delivery, or an incident reported by hand while in transit, removes it.
 */
export const shipments: CommandHandler<Shipment, ShipmentCommand, ShipmentEvent, Destinations> = {
  initialState: initialShipment,
  load: loadShipments,
  decide: decideShipment,
  evolve: evolveShipment,
  save: saveShipments,
  shared: { load: loadDestinations, evolve: (destinations) => destinations },
  tombstone: { cancels: (command) => command.type === 'CancelShipment', state: (id) => ({ status: 'VOIDED', id }) },
  messages: ({ id, events }, newId) => {
    const dispatched = events.find((event) => event.type === 'ShipmentDispatched');
    if (dispatched?.type === 'ShipmentDispatched') return [deadlineMessage(dispatched, newId())];
    const endsTransit = events.some(
      (event) =>
        event.type === 'ShipmentDelivered' || (event.type === 'IncidentReported' && !event.data.automatic && event.data.kind !== 'DAMAGED'),
    );
    return endsTransit ? [cancelDeadline(id, newId())] : [];
  },
};

const committed = (applied: ReadonlyArray<{ events: readonly DomainEvent[] }>) => recordShipmentEvents(applied.flatMap((a) => a.events));

const SHIPPING_EVENT_TYPES = [
  ...DESTINATION_EVENT_TYPES,
  'SaleConfirmed',
  'SaleCancelled',
  'ReshipmentStockReserved',
  'ReshipmentStockUnavailable',
  'PaymentRefunded',
  'RefundRejected',
];

export const shipmentReaction: Reaction<DomainEvent, Shipment, ShipmentCommand> = {
  spec: { stream: EVENTS_STREAM, durable: SHIPPING_CONSUMER, filterSubjects: SHIPPING_EVENT_TYPES.map(eventTypeFilter) },
  react: commandFor,
  actor: 'shipping-service',
  handler: shipments,
  committed,
};

export const replacementReaction: Reaction<DomainEvent, Shipment, ShipmentCommand> = {
  spec: { ...shipmentReaction.spec, durable: SHIPPING_REPLACEMENTS_INBOX },
  react: replacementFor,
  actor: 'shipping-service',
  handler: shipments,
  committed,
};

export const deadlineReaction: Reaction<DeliveryDeadline, Shipment, ShipmentCommand> = {
  spec: { stream: DEADLINES_STREAM, durable: SHIPPING_DEADLINES_CONSUMER, filterSubjects: ['deadlines.shipment.*.fired'] },
  decode: decodeDeadline,
  identify: (deadline) => ({ id: deadline.deadlineId, type: 'DeliveryDeadline' }),
  // The deadline's id names the incident: a second firing of the same timer reports nothing more.
  react: (deadline) => ({
    id: deadline.shipmentId,
    command: {
      type: 'ReportIncident',
      incidentId: deadline.deadlineId,
      kind: 'DELAYED',
      description: `not delivered by ${deadline.deadlineAt}`,
      automatic: true,
    },
  }),
  metadata: (deadline, ids) => ({
    correlationId: deadline.correlationId,
    causationId: deadline.deadlineId,
    actor: 'deadline',
    occurredAt: ids.now().toISOString(),
  }),
  actor: 'deadline',
  handler: shipments,
  committed,
};

/**
 * The shipping consumer reads, in stream order, the addresses (into the read model, first) and then what parcels must
 * do: a sale's parcel therefore always finds the checkout's or the customer's address that came before it. The
 * replacement a reservation opens is applied from the same messages, under an inbox name of its own.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the deadline consumer decodes its own message type
export function shippingConsumers(deps: Pick<ServiceDeps, 'db' | 'now' | 'newId' | 'keyring'>): ConsumerDefinition<any>[] {
  const parcels = reactor(deps, shipmentReaction);
  const replacements = reactor(deps, replacementReaction);
  return [
    {
      spec: shipmentReaction.spec,
      // Parcels go to addresses: this consumer reads them in plaintext (`[erased]` once their customer is).
      personalData: deps.keyring,
      handleBatch: async (items) => {
        await saveAddressRows(deps.db, addressRows(items.map((item) => item.message)));
        const failures = new Map(await parcels.handleBatch(items));
        for (const [index, error] of await replacements.handleBatch(items)) if (!failures.has(index)) failures.set(index, error);
        return failures;
      },
    },
    reactor(deps, deadlineReaction),
  ];
}
