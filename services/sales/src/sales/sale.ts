import type { EventDraft, OrderLine } from '@jetsaga/events';

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

export function decideSale(state: Sale, command: SaleCommand): SaleEvent[] {
  switch (command.type) {
    case 'ConfirmSale': {
      if (state.status !== 'NONE') return [];
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
