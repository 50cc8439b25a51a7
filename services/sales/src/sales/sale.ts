import type { EventDraft, OrderLine } from '@jetsaga/events';

/** VOIDED is a tombstone: the order was cancelled before its payment arrived here, so no sale follows. */
export type Sale = { status: 'NONE' } | { status: 'CONFIRMED' | 'VOIDED'; orderId: string };

export type SaleCommand =
  | { type: 'ConfirmSale'; orderId: string; customerId: string; lines: OrderLine[]; totalCents: number }
  | { type: 'VoidSale'; orderId: string };

export function decideSale(state: Sale, command: SaleCommand): EventDraft<'SaleConfirmed'>[] {
  switch (command.type) {
    case 'ConfirmSale': {
      if (state.status !== 'NONE') return [];
      const { orderId, customerId, lines, totalCents } = command;
      return [{ type: 'SaleConfirmed', data: { orderId, customerId, lines, totalCents } }];
    }
    case 'VoidSale':
      return [];
    default: {
      const unknown: never = command;
      throw new Error(`unknown sale command ${JSON.stringify(unknown)}`);
    }
  }
}

export function shouldVoid(state: Sale, command: SaleCommand): boolean {
  return state.status === 'NONE' && command.type === 'VoidSale';
}
