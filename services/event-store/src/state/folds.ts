import type { DomainEvent, OrderLine } from '@jetsaga/events';

/**
 * Read-side folds: the state of an aggregate as its API shows it, rebuilt from events alone. They are written here,
 * not imported from the services, because the event store reads every service's history without depending on any
 * service's code; the end-to-end tests check that both agree.
 */
export type Fold<S> = { initial: S; apply: (state: S, event: DomainEvent) => S };

export type OrderState = {
  id: string;
  customerId: string;
  status: 'PENDING' | 'COMPLETED' | 'CANCELLED';
  reason?: string;
  lines: OrderLine[];
  totalCents: number;
  correlationId: string;
} | null;

export const orderFold: Fold<OrderState> = {
  initial: null,
  apply(state, event) {
    switch (event.type) {
      case 'OrderPlaced':
        return {
          id: event.data.orderId,
          customerId: event.data.customerId,
          status: 'PENDING',
          lines: event.data.lines,
          totalCents: event.data.totalCents,
          correlationId: event.correlationId,
        };
      case 'OrderCompleted':
        return state && { ...state, status: 'COMPLETED' };
      case 'OrderCancelled':
        return state && { ...state, status: 'CANCELLED', reason: event.data.reason };
      default:
        return state;
    }
  },
};

export type CartState = {
  id: string;
  customerId: string;
  status: 'OPEN' | 'CHECKED_OUT';
  items: Array<{ productId: string; quantity: number; priceCents: number }>;
  totalCents: number;
  orderId?: string;
} | null;

export const cartFold: Fold<CartState> = {
  initial: null,
  apply(state, event) {
    switch (event.type) {
      case 'CartCreated':
        return { id: event.data.cartId, customerId: event.data.customerId, status: 'OPEN', items: [], totalCents: 0 };
      case 'CartItemAdded': {
        if (!state) return state;
        const { productId, quantity, priceCents } = event.data;
        const existing = state.items.find((item) => item.productId === productId);
        const items = existing
          ? state.items.map((item) => (item.productId === productId ? { productId, quantity: item.quantity + quantity, priceCents } : item))
          : [...state.items, { productId, quantity, priceCents }];
        return { ...state, items, totalCents: items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0) };
      }
      case 'CartCheckedOut':
        return state && { ...state, status: 'CHECKED_OUT', orderId: event.data.orderId };
      default:
        return state;
    }
  },
};

export type ProductState = {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  available: number;
  reserved: number;
} | null;

function quantityOf(lines: readonly OrderLine[], productId: string): number {
  return lines.filter((line) => line.productId === productId).reduce((sum, line) => sum + line.quantity, 0);
}

/** A product's stock moves with the reservations that name it. */
export function productFold(productId: string): Fold<ProductState> {
  return {
    initial: null,
    apply(state, event) {
      switch (event.type) {
        case 'ProductCreated':
          if (event.data.productId !== productId) return state;
          return {
            id: productId,
            sku: event.data.sku,
            name: event.data.name,
            priceCents: event.data.priceCents,
            available: event.data.stock,
            reserved: 0,
          };
        case 'StockReserved': {
          const q = quantityOf(event.data.lines, productId);
          return state && { ...state, available: state.available - q, reserved: state.reserved + q };
        }
        case 'StockReleased': {
          const q = quantityOf(event.data.lines, productId);
          return state && { ...state, available: state.available + q, reserved: state.reserved - q };
        }
        case 'StockCommitted': {
          const q = quantityOf(event.data.lines, productId);
          return state && { ...state, reserved: state.reserved - q };
        }
        case 'StockRestocked': {
          const q = quantityOf(event.data.lines, productId);
          return state && { ...state, available: state.available + q };
        }
        case 'ReshipmentStockReserved': {
          const q = quantityOf(event.data.lines, productId);
          return state && { ...state, available: state.available - q };
        }
        default:
          return state;
      }
    },
  };
}

export type CustomerState = { id: string; name: string; email: string; balanceCents: number } | null;

export function customerFold(customerId: string): Fold<CustomerState> {
  return {
    initial: null,
    apply(state, event) {
      switch (event.type) {
        case 'CustomerRegistered':
          if (event.data.customerId !== customerId) return state;
          return { id: customerId, name: event.data.name, email: event.data.email, balanceCents: event.data.balanceCents };
        case 'PaymentAccepted':
          return state && event.data.customerId === customerId
            ? { ...state, balanceCents: state.balanceCents - event.data.amountCents }
            : state;
        case 'PaymentRefunded':
          return state && event.data.customerId === customerId
            ? { ...state, balanceCents: state.balanceCents + event.data.amountCents }
            : state;
        default:
          return state;
      }
    },
  };
}

export type ComplaintState = {
  id: string;
  customerId: string;
  orderId?: string;
  shipmentId?: string;
  incidentId?: string;
  title: string;
  priority: string;
  category: string;
  automatic: boolean;
  status: 'OPEN' | 'ASSIGNED' | 'IN_PROGRESS' | 'RESOLVED' | 'CLOSED';
  deadlineAt: string;
  assignee?: string;
  resolution?: string;
  refundCents?: number;
  refundId?: string;
  escalation?: 'UNASSIGNED' | 'UNRESOLVED';
  /** The refund it asked for (or its incident did), as payment answered it. */
  refund?: { refundId: string; amountCents: number; status: 'REQUESTED' | 'REFUNDED' | 'REJECTED'; reason?: string };
} | null;

/** A complaint as support's API shows it, with the answer to its refund: its own events and the refund's. */
export const complaintFold: Fold<ComplaintState> = {
  initial: null,
  apply(state, event) {
    switch (event.type) {
      case 'ComplaintOpened': {
        const { complaintId, customerId, orderId, shipmentId, incidentId, title, priority, category, automatic, deadlineAt } = event.data;
        return {
          id: complaintId,
          customerId,
          ...(orderId ? { orderId } : {}),
          ...(shipmentId ? { shipmentId } : {}),
          ...(incidentId ? { incidentId } : {}),
          title,
          priority,
          category,
          automatic,
          status: 'OPEN',
          deadlineAt,
        };
      }
      case 'ComplaintAssigned':
        return state && { ...state, status: 'ASSIGNED', assignee: event.data.agent };
      case 'ComplaintProcessingStarted':
        return state && { ...state, status: 'IN_PROGRESS' };
      case 'ComplaintResolved': {
        const { resolution, refundCents, refundId } = event.data;
        return state && { ...state, status: 'RESOLVED', resolution, ...(refundId ? { refundCents, refundId } : {}) };
      }
      case 'ComplaintClosed':
        return state && { ...state, status: 'CLOSED' };
      case 'ComplaintEscalated':
        return state && { ...state, escalation: event.data.stage };
      case 'RefundRequested':
        return state && { ...state, refund: { refundId: event.data.refundId, amountCents: event.data.amountCents, status: 'REQUESTED' } };
      case 'PaymentRefunded':
        return state?.refund && state.refund.refundId === event.data.refundId
          ? { ...state, refund: { ...state.refund, status: 'REFUNDED' } }
          : state;
      case 'RefundRejected':
        return state?.refund && state.refund.refundId === event.data.refundId
          ? { ...state, refund: { ...state.refund, status: 'REJECTED', reason: event.data.reason } }
          : state;
      default:
        return state;
    }
  },
};

export function replay<S>(fold: Fold<S>, events: readonly DomainEvent[]): S {
  return events.reduce(fold.apply, fold.initial);
}

type ShipmentIncident = {
  incidentId: string;
  kind: string;
  automatic: boolean;
  status: 'OPEN' | 'RESHIP_REQUESTED' | 'RESOLVED';
  resumes: string;
  resolution?: string;
  requested?: string;
  amountCents?: number;
  replacementShipmentId?: string;
  reason?: string;
  refund?: { status: 'PENDING' | 'REFUNDED' | 'REJECTED'; amountCents: number; refundId?: string; reason?: string };
};

export type ShipmentState = {
  id: string;
  orderId: string;
  customerId: string;
  status: 'CREATED' | 'DISPATCHED' | 'DELIVERED' | 'INCIDENT' | 'REPLACED' | 'REFUNDED' | 'CANCELLED';
  lines: OrderLine[];
  replacesShipmentId?: string;
  carrier: string | null;
  trackingNumber: string | null;
  incidents: ShipmentIncident[];
} | null;

/** A parcel as GET /api/shipments/:id shows its status, carrier and incidents, from its own events alone. */
export const shipmentFold: Fold<ShipmentState> = {
  initial: null,
  apply(state, event) {
    if (event.type === 'ShipmentCreated') {
      const { shipmentId, orderId, customerId, lines, replacesShipmentId } = event.data;
      return {
        id: shipmentId,
        orderId,
        customerId,
        status: 'CREATED',
        lines,
        ...(replacesShipmentId ? { replacesShipmentId } : {}),
        carrier: null,
        trackingNumber: null,
        incidents: [],
      };
    }
    if (!state) return state;
    const incident = (incidentId: string, change: (incident: ShipmentIncident) => ShipmentIncident) =>
      state.incidents.map((one) => (one.incidentId === incidentId ? change(one) : one));
    switch (event.type) {
      case 'ShipmentCancelled':
        return { ...state, status: 'CANCELLED' };
      case 'ShipmentDispatched':
        return { ...state, status: 'DISPATCHED', carrier: event.data.carrier, trackingNumber: event.data.trackingNumber };
      case 'ShipmentDelivered':
        return { ...state, status: 'DELIVERED' };
      case 'IncidentReported': {
        const { incidentId, kind, automatic } = event.data;
        return {
          ...state,
          status: 'INCIDENT',
          incidents: [...state.incidents, { incidentId, kind, automatic, status: 'OPEN', resumes: state.status }],
        };
      }
      case 'ReshipmentRequested':
        return {
          ...state,
          incidents: incident(event.data.incidentId, (one) => ({ ...one, status: 'RESHIP_REQUESTED', requested: 'RESHIP' })),
        };
      case 'IncidentResolved': {
        const { incidentId, resolution, requested, amountCents, replacementShipmentId, reason } = event.data;
        const resumes = state.incidents.find((one) => one.incidentId === incidentId)?.resumes ?? 'DISPATCHED';
        const status =
          resolution === 'RESHIP' ? 'REPLACED' : resolution === 'REFUND' ? 'INCIDENT' : (resumes as NonNullable<ShipmentState>['status']);
        const incidents = incident(incidentId, (one) => ({
          ...one,
          status: 'RESOLVED',
          resolution,
          requested,
          amountCents,
          ...(replacementShipmentId ? { replacementShipmentId } : {}),
          ...(reason ? { reason } : {}),
          ...(resolution === 'REFUND' ? { refund: { status: 'PENDING' as const, amountCents } } : {}),
        }));
        return { ...state, status, incidents };
      }
      case 'ShipmentRefunded':
      case 'ShipmentRefundRejected': {
        const { incidentId, refundId, amountCents } = event.data;
        const refund =
          event.type === 'ShipmentRefunded'
            ? { status: 'REFUNDED' as const, amountCents, refundId }
            : { status: 'REJECTED' as const, amountCents, refundId, reason: event.data.reason };
        return {
          ...state,
          status: event.type === 'ShipmentRefunded' ? 'REFUNDED' : state.status,
          incidents: incidentId ? incident(incidentId, (one) => ({ ...one, refund })) : state.incidents,
        };
      }
      default:
        return state;
    }
  },
};
