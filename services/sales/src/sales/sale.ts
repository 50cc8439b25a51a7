import type { EventDraft, OrderLine } from '@jetsaga/events';
import { PermanentError, RetryLaterError } from '@jetsaga/platform';

/**
 * VOIDED is a tombstone: the order was cancelled before its payment arrived here, so no sale follows. CANCELLED is a
 * sale confirmed while its order was being cancelled (the deadline and the payment crossed): it is taken off the books.
 */
export type Sale =
  | { status: 'NONE' }
  | { status: 'VOIDED'; orderId: string }
  | { status: 'CONFIRMED' | 'CANCELLED'; orderId: string; customerId: string; lines: OrderLine[]; totalCents: number };

export type SaleCommand =
  | { type: 'ConfirmSale'; orderId: string; customerId: string; lines: OrderLine[]; totalCents: number }
  | { type: 'VoidSale'; orderId: string };

export type SaleEvent = EventDraft<'SaleConfirmed' | 'SaleCancelled'>;

/** What sales saw placed (OrderPlaced, through its own consumer): the orders a payment may confirm a sale for. */
export type PlacedOrder = { customerId: string; totalCents: number };
export type PlacedOrders = ReadonlyMap<string, PlacedOrder>;

/**
 * How long a payment for an order sales has not seen placed waits. Its OrderPlaced is stored before it (the saga goes
 * through inventory and payment first): an order sales's own consumer has not recorded yet is read from the event log
 * on each attempt (reactions.ts), and a replica that answered a moment behind the leader answers the next one. No
 * OrderPlaced in the log after 15 s over the consumer's five attempts: the dead-letter stream, with this reason.
 */
export const UNKNOWN_ORDER_RETRY_MS = [1000, 2000, 4000, 8000] as const;

export class UnknownOrderError extends RetryLaterError {
  override name = 'UnknownOrderError';
  constructor(readonly orderId: string) {
    super(`payment accepted for order ${orderId}, which was never placed (no OrderPlaced seen): no sale`, UNKNOWN_ORDER_RETRY_MS);
  }
}

/** A payment that contradicts its order (another amount or customer): refused at once, never a sale. */
export class PaymentMismatchError extends PermanentError {
  override name = 'PaymentMismatchError';
}

/**
 * The second line of defence behind NATS permissions: a payment confirms a sale only for an order sales saw placed,
 * for that order's customer and total. `placed` holds the orders of the commands at hand.
 */
export function checkPayment(command: Extract<SaleCommand, { type: 'ConfirmSale' }>, placed: PlacedOrders): void {
  const order = placed.get(command.orderId);
  if (!order) throw new UnknownOrderError(command.orderId);
  if (order.totalCents !== command.totalCents || order.customerId !== command.customerId) {
    throw new PaymentMismatchError(
      `payment accepted for order ${command.orderId} says ${command.totalCents} cents from customer ${command.customerId}, ` +
        `but the order was placed for ${order.totalCents} cents by customer ${order.customerId}: no sale`,
    );
  }
}

export function decideSale(state: Sale, command: SaleCommand, placed: PlacedOrders = new Map()): SaleEvent[] {
  switch (command.type) {
    case 'ConfirmSale': {
      if (state.status !== 'NONE') return [];
      checkPayment(command, placed);
      const { orderId, customerId, lines, totalCents } = command;
      return [{ type: 'SaleConfirmed', data: { orderId, customerId, lines, totalCents } }];
    }
    case 'VoidSale': {
      if (state.status !== 'CONFIRMED') return [];
      const { orderId, customerId, lines, totalCents } = state;
      return [{ type: 'SaleCancelled', data: { orderId, customerId, lines, totalCents } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`unknown sale command ${JSON.stringify(unknown)}`);
    }
  }
}

export function evolveSale(state: Sale, event: SaleEvent): Sale {
  const { orderId, customerId, lines, totalCents } = event.data;
  switch (event.type) {
    case 'SaleConfirmed':
      return { status: 'CONFIRMED', orderId, customerId, lines, totalCents };
    case 'SaleCancelled':
      return state.status === 'CONFIRMED' ? { ...state, status: 'CANCELLED' } : state;
    default: {
      const unknown: never = event;
      throw new Error(`unknown sale event ${JSON.stringify(unknown)}`);
    }
  }
}
