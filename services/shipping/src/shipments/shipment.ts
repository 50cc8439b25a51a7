import { createHash } from 'node:crypto';
import type { Address, EventDraft, IncidentKind, IncidentResolution, OrderLine } from '@jetsaga/events';
import { ConflictError, NotFoundError } from '@jetsaga/platform';

export type ShipmentStatus = 'CREATED' | 'DISPATCHED' | 'DELIVERED' | 'INCIDENT' | 'REPLACED' | 'REFUNDED' | 'CANCELLED';

/** Where a parcel stood before its incident: a NONE resolution puts it back there. */
type Resumable = 'CREATED' | 'DISPATCHED' | 'DELIVERED';

export type Refund = { status: 'PENDING' | 'REFUNDED' | 'REJECTED'; amountCents: number; refundId?: string; reason?: string };

export type Incident = {
  incidentId: string;
  kind: IncidentKind;
  description: string;
  automatic: boolean;
  /** OPEN until resolved; RESHIP_REQUESTED while inventory is asked for the replacement's stock. */
  status: 'OPEN' | 'RESHIP_REQUESTED' | 'RESOLVED';
  resumes: Resumable;
  requested?: IncidentResolution;
  resolution?: IncidentResolution;
  note?: string;
  amountCents?: number;
  replacementShipmentId?: string;
  reason?: string;
  refund?: Refund;
};

/**
 * VOIDED is a tombstone: the sale was cancelled before its confirmation was handled here (a delayed redelivery), so
 * the late SaleConfirmed opens no parcel for a cancelled order. It has no events and no parcel to show.
 */
export type Shipment =
  | { status: 'NONE' }
  | { status: 'VOIDED'; id: string }
  | {
      status: ShipmentStatus;
      id: string;
      orderId: string;
      customerId: string;
      lines: OrderLine[];
      address?: Address;
      replacesShipmentId?: string;
      carrier?: string;
      trackingNumber?: string;
      deadlineAt?: string;
      incidents: Incident[];
    };

export type OpenShipment = {
  type: 'OpenShipment';
  /** shipmentIdFor(orderId) for a sale's parcel, replacementIdFor(incidentId) for a replacement. */
  shipmentId: string;
  orderId: string;
  /** Absent for a replacement: the parcel it replaces names the customer. */
  customerId?: string;
  lines: OrderLine[];
  replacesShipmentId?: string;
};

export type ShipmentCommand =
  | OpenShipment
  | { type: 'CancelShipment' }
  | { type: 'Dispatch'; carrier: string; trackingNumber: string; deadlineAt: string }
  | { type: 'Deliver' }
  | { type: 'ReportIncident'; incidentId: string; kind: IncidentKind; description: string; automatic: boolean }
  | { type: 'ResolveIncident'; incidentId: string; resolution: IncidentResolution; note: string }
  | { type: 'ConfirmReshipment'; incidentId: string }
  | { type: 'RefuseReshipment'; incidentId: string }
  | { type: 'RecordRefund'; incidentId?: string; refundId: string; amountCents: number }
  | { type: 'RecordRefundRejected'; incidentId?: string; refundId: string; amountCents: number; reason: string };

export type ShipmentEvent = EventDraft<
  | 'ShipmentCreated'
  | 'ShipmentCancelled'
  | 'ShipmentDispatched'
  | 'ShipmentDelivered'
  | 'IncidentReported'
  | 'ReshipmentRequested'
  | 'IncidentResolved'
  | 'ShipmentRefunded'
  | 'ShipmentRefundRejected'
>;

/** Who a parcel goes to: the customer, and the address (the checkout's, else the customer's; none when neither gave one). */
export type Destination = { customerId: string; address?: Address };
/** Destinations by order id (a sale's parcel) or by the id of the parcel a replacement replaces. */
export type Destinations = ReadonlyMap<string, Destination>;

export const initialShipment: Shipment = { status: 'NONE' };

// A fixed namespace: the same order (or incident) always names the same parcel, so opening it twice is impossible.
const NAMESPACE = Buffer.from('5b1f0c36a3e54b8c9d0e2f4a6b8c0d1e', 'hex');

function nameBasedId(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name).digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The parcel of a sale (UUID v5 of the order id). */
export function shipmentIdFor(orderId: string): string {
  return nameBasedId(`shipment:${orderId}`);
}

/** The replacement parcel an incident resolved RESHIP opens (UUID v5 of the incident id). */
export function replacementIdFor(incidentId: string): string {
  return nameBasedId(`replacement:${incidentId}`);
}

/** What the parcel's lines are worth: what a REFUND gives back. */
export function valueOf(lines: readonly OrderLine[]): number {
  return lines.reduce((sum, line) => sum + line.quantity * line.priceCents, 0);
}

type Existing = Shipment & { status: ShipmentStatus };

function openIncident(state: Existing, incidentId: string): Incident {
  const incident = state.incidents.find((candidate) => candidate.incidentId === incidentId);
  if (!incident) throw new NotFoundError(`incident ${incidentId} of shipment ${state.id} does not exist`);
  return incident;
}

function ids(state: Existing) {
  return { shipmentId: state.id, orderId: state.orderId, customerId: state.customerId };
}

/**
 * The parcel's rules. A request the state does not allow is a ConflictError (409, nothing changes); a message that
 * arrives again, or too late to matter (a deadline after delivery, a second answer from inventory), decides nothing.
 */
export function decideShipment(state: Shipment, command: ShipmentCommand, destinations: Destinations): ShipmentEvent[] {
  if (command.type === 'OpenShipment') {
    if (state.status !== 'NONE') return [];
    const destination = destinations.get(command.replacesShipmentId ?? command.orderId);
    const customerId = command.customerId ?? destination?.customerId;
    // Only a replacement lacks the customer, and the parcel it replaces is in this service: it cannot be missing.
    if (!customerId) throw new Error(`the parcel ${command.replacesShipmentId ?? ''} a replacement replaces is unknown`);
    return [
      {
        type: 'ShipmentCreated',
        data: {
          shipmentId: command.shipmentId,
          orderId: command.orderId,
          customerId,
          lines: command.lines,
          ...(destination?.address ? { address: destination.address } : {}),
          ...(command.replacesShipmentId ? { replacesShipmentId: command.replacesShipmentId } : {}),
        },
      },
    ];
  }
  if (state.status === 'NONE' || state.status === 'VOIDED') {
    // Reactions only name parcels this service opened; a request may name any id.
    if (isReaction(command) || (command.type === 'ReportIncident' && command.automatic)) return [];
    throw new NotFoundError('the shipment does not exist');
  }
  switch (command.type) {
    case 'CancelShipment':
      if (state.status !== 'CREATED') return [];
      return [{ type: 'ShipmentCancelled', data: { ...ids(state), reason: 'SALE_CANCELLED' } }];
    case 'Dispatch':
      if (state.status !== 'CREATED')
        throw new ConflictError(`shipment ${state.id} is ${state.status}, not CREATED: it cannot be dispatched`);
      if (!state.address) throw new ConflictError(`shipment ${state.id} has no address: neither its order nor its customer gave one`);
      return [
        {
          type: 'ShipmentDispatched',
          data: { ...ids(state), carrier: command.carrier, trackingNumber: command.trackingNumber, deadlineAt: command.deadlineAt },
        },
      ];
    case 'Deliver':
      if (state.status !== 'DISPATCHED')
        throw new ConflictError(`shipment ${state.id} is ${state.status}, not DISPATCHED: it cannot be delivered`);
      return [{ type: 'ShipmentDelivered', data: ids(state) }];
    case 'ReportIncident': {
      const { incidentId, kind, description, automatic } = command;
      if (state.incidents.some((incident) => incident.incidentId === incidentId)) return [];
      const allowed = state.status === 'DISPATCHED' || (state.status === 'DELIVERED' && kind === 'DAMAGED');
      if (!allowed) {
        // The deadline of a parcel delivered (or already in trouble) in time has nothing to report.
        if (automatic) return [];
        throw new ConflictError(`shipment ${state.id} is ${state.status}: a ${kind} incident cannot be reported`);
      }
      return [{ type: 'IncidentReported', data: { ...ids(state), incidentId, kind, description, automatic } }];
    }
    case 'ResolveIncident': {
      const incident = openIncident(state, command.incidentId);
      if (incident.status !== 'OPEN' || state.status !== 'INCIDENT') {
        throw new ConflictError(`incident ${incident.incidentId} is ${incident.status}: it cannot be resolved again`);
      }
      const { incidentId, resolution, note } = command;
      if (resolution === 'RESHIP') return [{ type: 'ReshipmentRequested', data: { ...ids(state), incidentId, lines: state.lines, note } }];
      const amountCents = resolution === 'REFUND' ? valueOf(state.lines) : 0;
      return [{ type: 'IncidentResolved', data: { ...ids(state), incidentId, resolution, note, requested: resolution, amountCents } }];
    }
    case 'ConfirmReshipment':
    case 'RefuseReshipment': {
      // Inventory's answer to a RESHIP request settles the incident: a replacement parcel, or a refund when stock is short.
      const incident = state.incidents.find((candidate) => candidate.incidentId === command.incidentId);
      if (incident?.status !== 'RESHIP_REQUESTED') return [];
      const settled = { ...ids(state), incidentId: incident.incidentId, note: incident.note ?? '', requested: 'RESHIP' } as const;
      return [
        command.type === 'ConfirmReshipment'
          ? {
              type: 'IncidentResolved',
              data: { ...settled, resolution: 'RESHIP', amountCents: 0, replacementShipmentId: replacementIdFor(incident.incidentId) },
            }
          : {
              type: 'IncidentResolved',
              data: { ...settled, resolution: 'REFUND', amountCents: valueOf(state.lines), reason: 'OUT_OF_STOCK' },
            },
      ];
    }
    case 'RecordRefund':
    case 'RecordRefundRejected': {
      const incident = refundedIncident(state, command.incidentId);
      if (!incident || incident.refund?.status !== 'PENDING') return [];
      const { refundId, amountCents } = command;
      const about = { ...ids(state), incidentId: incident.incidentId, refundId, amountCents };
      return command.type === 'RecordRefund'
        ? [{ type: 'ShipmentRefunded', data: about }]
        : [{ type: 'ShipmentRefundRejected', data: { ...about, reason: command.reason } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`unknown shipment command ${JSON.stringify(unknown)}`);
    }
  }
}

function isReaction(command: ShipmentCommand): boolean {
  return ['CancelShipment', 'ConfirmReshipment', 'RefuseReshipment', 'RecordRefund', 'RecordRefundRejected'].includes(command.type);
}

/** The incident a refund answers: the one it names, else the last one that resolved to a refund. */
function refundedIncident(state: Existing, incidentId: string | undefined): Incident | undefined {
  if (incidentId) return state.incidents.find((incident) => incident.incidentId === incidentId);
  return state.incidents.findLast((incident) => incident.resolution === 'REFUND');
}

function withIncident(state: Existing, incidentId: string, change: (incident: Incident) => Incident): Incident[] {
  return state.incidents.map((incident) => (incident.incidentId === incidentId ? change(incident) : incident));
}

export function evolveShipment(state: Shipment, event: ShipmentEvent): Shipment {
  if (event.type === 'ShipmentCreated') {
    const { shipmentId, orderId, customerId, lines, address, replacesShipmentId } = event.data;
    return {
      status: 'CREATED',
      id: shipmentId,
      orderId,
      customerId,
      lines,
      ...(address ? { address } : {}),
      ...(replacesShipmentId ? { replacesShipmentId } : {}),
      incidents: [],
    };
  }
  if (state.status === 'NONE' || state.status === 'VOIDED') return state;
  switch (event.type) {
    case 'ShipmentCancelled':
      return { ...state, status: 'CANCELLED' };
    case 'ShipmentDispatched': {
      const { carrier, trackingNumber, deadlineAt } = event.data;
      return { ...state, status: 'DISPATCHED', carrier, trackingNumber, deadlineAt };
    }
    case 'ShipmentDelivered':
      return { ...state, status: 'DELIVERED' };
    case 'IncidentReported': {
      const { incidentId, kind, description, automatic } = event.data;
      const resumes: Resumable = state.status === 'DELIVERED' ? 'DELIVERED' : state.status === 'CREATED' ? 'CREATED' : 'DISPATCHED';
      return {
        ...state,
        status: 'INCIDENT',
        incidents: [...state.incidents, { incidentId, kind, description, automatic, status: 'OPEN', resumes }],
      };
    }
    case 'ReshipmentRequested':
      return {
        ...state,
        incidents: withIncident(state, event.data.incidentId, (incident) => ({
          ...incident,
          status: 'RESHIP_REQUESTED',
          requested: 'RESHIP',
          note: event.data.note ?? '',
        })),
      };
    case 'IncidentResolved': {
      const { incidentId, resolution, requested, note, amountCents, replacementShipmentId, reason } = event.data;
      const resumes = state.incidents.find((incident) => incident.incidentId === incidentId)?.resumes ?? 'DISPATCHED';
      const incidents = withIncident(state, incidentId, (incident) => {
        return {
          ...incident,
          status: 'RESOLVED',
          resolution,
          requested,
          note,
          amountCents,
          ...(replacementShipmentId ? { replacementShipmentId } : {}),
          ...(reason ? { reason } : {}),
          ...(resolution === 'REFUND' ? { refund: { status: 'PENDING', amountCents } } : {}),
        };
      });
      const status: ShipmentStatus = resolution === 'RESHIP' ? 'REPLACED' : resolution === 'REFUND' ? 'INCIDENT' : resumes;
      return { ...state, status, incidents };
    }
    case 'ShipmentRefunded':
    case 'ShipmentRefundRejected': {
      const { incidentId, refundId, amountCents } = event.data;
      const refund: Refund =
        event.type === 'ShipmentRefunded'
          ? { status: 'REFUNDED', amountCents, refundId }
          : { status: 'REJECTED', amountCents, refundId, reason: event.data.reason };
      const incidents = incidentId ? withIncident(state, incidentId, (incident) => ({ ...incident, refund })) : state.incidents;
      return { ...state, status: event.type === 'ShipmentRefunded' ? 'REFUNDED' : state.status, incidents };
    }
    default: {
      const unknown: never = event;
      throw new Error(`unknown shipment event ${JSON.stringify(unknown)}`);
    }
  }
}
