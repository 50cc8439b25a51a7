import type { EventDraft, OrderLine, RefundRejectionReason } from '@jetsaga/events';

export type PaymentStatus = 'ACCEPTED' | 'REFUSED' | 'REFUNDED' | 'VOIDED';

/**
 * VOIDED is a tombstone: the order was cancelled before its payment was asked for, so none will be taken. An ACCEPTED
 * payment may have been partly given back by refund requests (`refundedCents`, `refundIds`); REFUNDED means the
 * cancellation of its order gave back all that was left.
 */
export type Payment =
  | { status: 'NONE' }
  | {
      status: PaymentStatus;
      orderId: string;
      customerId: string | null;
      amountCents: number;
      refundedCents: number;
      refundIds: readonly string[];
    };

/** What support's RefundRequested asks of the payment of its order. */
export type RefundRequest = {
  type: 'RequestRefund';
  refundId: string;
  orderId: string;
  customerId: string;
  amountCents: number;
  complaintId?: string | undefined;
  shipmentId?: string | undefined;
  incidentId?: string | undefined;
};

export type PaymentCommand =
  | { type: 'Charge'; orderId: string; customerId: string; amountCents: number; lines: OrderLine[] }
  | { type: 'Refund'; orderId: string }
  | RefundRequest;

export type PaymentEvent = EventDraft<'PaymentAccepted' | 'PaymentRefused' | 'PaymentRefunded' | 'RefundRejected'>;

/** What is left of a payment to give back. */
export function refundable(state: Payment): number {
  return state.status === 'ACCEPTED' ? state.amountCents - state.refundedCents : 0;
}

/** The ids a refund carries from its request to its answer, only those set. */
function links(command: RefundRequest) {
  const { complaintId, shipmentId, incidentId } = command;
  return {
    ...(complaintId ? { complaintId } : {}),
    ...(shipmentId ? { shipmentId } : {}),
    ...(incidentId ? { incidentId } : {}),
  };
}

/**
 * A refund request gives back at most what is left of the order's payment, to the customer who paid it, once per
 * refund id; anything else is refused with its reason and moves no money.
 */
export function decideRefund(state: Payment, command: RefundRequest): PaymentEvent[] {
  if (state.status !== 'NONE' && state.refundIds.includes(command.refundId)) return [];
  const { refundId, orderId, customerId, amountCents } = command;
  const reject = (reason: RefundRejectionReason): PaymentEvent[] => [
    { type: 'RefundRejected', data: { refundId, orderId, customerId, amountCents, reason, ...links(command) } },
  ];
  if (state.status === 'REFUNDED') return reject('ALREADY_REFUNDED');
  if (state.status !== 'ACCEPTED' || !state.customerId) return reject('NO_PAYMENT');
  if (state.customerId !== customerId) return reject('CUSTOMER_MISMATCH');
  if (amountCents > refundable(state)) return reject('EXCEEDS_PAYMENT');
  return [{ type: 'PaymentRefunded', data: { orderId, customerId, amountCents, refundId, ...links(command) } }];
}

/** Debit when the balance covers the whole amount, else refuse; refund only what was taken, once. */
export function decidePayment(state: Payment, balanceCents: number, command: PaymentCommand): PaymentEvent[] {
  switch (command.type) {
    case 'Charge': {
      if (state.status !== 'NONE') return [];
      const { orderId, customerId, amountCents, lines } = command;
      if (balanceCents < amountCents) {
        return [{ type: 'PaymentRefused', data: { orderId, customerId, amountCents, reason: 'INSUFFICIENT_FUNDS' } }];
      }
      return [{ type: 'PaymentAccepted', data: { orderId, customerId, amountCents, lines } }];
    }
    case 'Refund':
      // A cancellation gives back what refund requests have not already.
      if (state.status !== 'ACCEPTED' || !state.customerId) return [];
      return [{ type: 'PaymentRefunded', data: { orderId: state.orderId, customerId: state.customerId, amountCents: refundable(state) } }];
    case 'RequestRefund':
      return decideRefund(state, command);
    default: {
      const unknown: never = command;
      throw new Error(`unknown payment command ${JSON.stringify(unknown)}`);
    }
  }
}

export function evolvePayment(state: Payment, event: PaymentEvent): Payment {
  const { orderId, customerId, amountCents } = event.data;
  switch (event.type) {
    case 'PaymentAccepted':
      return { status: 'ACCEPTED', orderId, customerId, amountCents, refundedCents: 0, refundIds: [] };
    case 'PaymentRefused':
      return { status: 'REFUSED', orderId, customerId, amountCents, refundedCents: 0, refundIds: [] };
    case 'PaymentRefunded': {
      if (state.status === 'NONE') return state;
      const { refundId } = event.data;
      if (!refundId) return { ...state, status: 'REFUNDED', refundedCents: state.amountCents };
      return { ...state, refundedCents: state.refundedCents + amountCents, refundIds: [...state.refundIds, refundId] };
    }
    case 'RefundRejected':
      return state.status === 'NONE' ? state : { ...state, refundIds: [...state.refundIds, event.data.refundId] };
    default: {
      const unknown: never = event;
      throw new Error(`unknown payment event ${JSON.stringify(unknown)}`);
    }
  }
}

/** How each event moves the customer's balance. */
export function balanceDelta(event: PaymentEvent): number {
  switch (event.type) {
    case 'PaymentAccepted':
      return -event.data.amountCents;
    case 'PaymentRefunded':
      return event.data.amountCents;
    case 'PaymentRefused':
    case 'RefundRejected':
      return 0;
    default: {
      const unknown: never = event;
      throw new Error(`unknown payment event ${JSON.stringify(unknown)}`);
    }
  }
}
