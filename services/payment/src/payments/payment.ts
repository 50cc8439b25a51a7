import type { EventDraft, OrderLine } from '@jetsaga/events';

export type PaymentStatus = 'ACCEPTED' | 'REFUSED' | 'REFUNDED' | 'VOIDED';

/** VOIDED is a tombstone: the order was cancelled before its payment was asked for, so none will be taken. */
export type Payment = { status: 'NONE' } | { status: PaymentStatus; orderId: string; customerId: string | null; amountCents: number };

export type PaymentCommand =
  { type: 'Charge'; orderId: string; customerId: string; amountCents: number; lines: OrderLine[] } | { type: 'Refund'; orderId: string };

export type PaymentEvent = EventDraft<'PaymentAccepted' | 'PaymentRefused' | 'PaymentRefunded'>;

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
      if (state.status !== 'ACCEPTED' || !state.customerId) return [];
      return [{ type: 'PaymentRefunded', data: { orderId: state.orderId, customerId: state.customerId, amountCents: state.amountCents } }];
    default: {
      const unknown: never = command;
      throw new Error(`unknown payment command ${JSON.stringify(unknown)}`);
    }
  }
}

export function evolvePayment(_state: Payment, event: PaymentEvent): Payment {
  const { orderId, customerId, amountCents } = event.data;
  switch (event.type) {
    case 'PaymentAccepted':
      return { status: 'ACCEPTED', orderId, customerId, amountCents };
    case 'PaymentRefused':
      return { status: 'REFUSED', orderId, customerId, amountCents };
    case 'PaymentRefunded':
      return { status: 'REFUNDED', orderId, customerId, amountCents };
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
      return 0;
    default: {
      const unknown: never = event;
      throw new Error(`unknown payment event ${JSON.stringify(unknown)}`);
    }
  }
}
