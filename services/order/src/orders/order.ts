import type { Address, CancellationReason, EventDraft, EventOfType, OrderLine } from '@jetsaga/events';
import { ConflictError } from '@jetsaga/platform';

export type OrderStatus = 'PENDING' | 'COMPLETED' | 'CANCELLED';

export type Order =
  | { status: 'NONE' }
  | {
      status: OrderStatus;
      id: string;
      cartId: string;
      customerId: string;
      lines: OrderLine[];
      totalCents: number;
      deadlineAt: string;
      reason: CancellationReason | null;
    };

export type OrderCommand =
  | {
      type: 'PlaceOrder';
      orderId: string;
      cartId: string;
      customerId: string;
      lines: OrderLine[];
      deadlineAt: string;
      shippingAddress?: Address;
    }
  | { type: 'CompleteOrder' }
  | { type: 'CancelOrder'; reason: CancellationReason };

export type OrderEvent = EventDraft<'OrderPlaced' | 'OrderCompleted' | 'OrderCancelled'>;

export const initialOrder: Order = { status: 'NONE' };

export function isTerminal(order: Order): boolean {
  return order.status === 'COMPLETED' || order.status === 'CANCELLED';
}

/**
 * The order's part of the saga. A terminal order ignores whatever arrives late (a sale after a deadline,
 * a second cancellation): nothing resurrects it and no compensation is decided twice.
 */
export function decideOrder(state: Order, command: OrderCommand): OrderEvent[] {
  switch (command.type) {
    case 'PlaceOrder': {
      if (state.status !== 'NONE') throw new ConflictError(`order ${command.orderId} already exists`);
      const totalCents = command.lines.reduce((sum, line) => sum + line.quantity * line.priceCents, 0);
      return [
        {
          type: 'OrderPlaced',
          data: {
            orderId: command.orderId,
            cartId: command.cartId,
            customerId: command.customerId,
            lines: command.lines,
            totalCents,
            deadlineAt: command.deadlineAt,
            ...(command.shippingAddress ? { shippingAddress: command.shippingAddress } : {}),
          },
        },
      ];
    }
    case 'CompleteOrder':
      if (state.status !== 'PENDING') return [];
      return [{ type: 'OrderCompleted', data: { orderId: state.id } }];
    case 'CancelOrder':
      if (state.status !== 'PENDING') return [];
      return [{ type: 'OrderCancelled', data: { orderId: state.id, customerId: state.customerId, reason: command.reason } }];
    default: {
      const unknown: never = command;
      throw new Error(`unknown order command ${JSON.stringify(unknown)}`);
    }
  }
}

type OrderEventLike = OrderEvent | EventOfType<'OrderPlaced' | 'OrderCompleted' | 'OrderCancelled'>;

export function evolveOrder(state: Order, event: OrderEventLike): Order {
  switch (event.type) {
    case 'OrderPlaced':
      return {
        status: 'PENDING',
        id: event.data.orderId,
        cartId: event.data.cartId,
        customerId: event.data.customerId,
        lines: event.data.lines,
        totalCents: event.data.totalCents,
        deadlineAt: event.data.deadlineAt,
        reason: null,
      };
    case 'OrderCompleted':
      return state.status === 'NONE' ? state : { ...state, status: 'COMPLETED' };
    case 'OrderCancelled':
      return state.status === 'NONE' ? state : { ...state, status: 'CANCELLED', reason: event.data.reason };
    default: {
      const unknown: never = event;
      throw new Error(`unknown order event ${JSON.stringify(unknown)}`);
    }
  }
}
