import type { EventDraft, EventOfType } from '@jetsaga/events';
import { ConflictError } from '@jetsaga/platform';

export type CartItem = { productId: string; quantity: number; priceCents: number };

export type Cart =
  { status: 'NONE' } | { status: 'OPEN' | 'CHECKED_OUT'; id: string; customerId: string; items: CartItem[]; orderId: string | null };

export type CartCommand =
  | { type: 'CreateCart'; cartId: string; customerId: string }
  | { type: 'AddItem'; productId: string; quantity: number; priceCents: number }
  | { type: 'CheckOut'; orderId: string };

export type CartEvent = EventDraft<'CartCreated' | 'CartItemAdded' | 'CartCheckedOut'>;

export const initialCart: Cart = { status: 'NONE' };

export function cartTotal(items: readonly CartItem[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0);
}

/** The cart's rules: only an open cart changes; only a non-empty open cart checks out, once. */
export function decideCart(state: Cart, command: CartCommand): CartEvent[] {
  switch (command.type) {
    case 'CreateCart':
      if (state.status !== 'NONE') throw new ConflictError(`cart ${command.cartId} already exists`);
      return [{ type: 'CartCreated', data: { cartId: command.cartId, customerId: command.customerId } }];
    case 'AddItem':
      if (state.status === 'NONE') throw new ConflictError('the cart does not exist');
      if (state.status === 'CHECKED_OUT') throw new ConflictError(`cart ${state.id} is already checked out`);
      return [
        {
          type: 'CartItemAdded',
          data: { cartId: state.id, productId: command.productId, quantity: command.quantity, priceCents: command.priceCents },
        },
      ];
    case 'CheckOut':
      if (state.status === 'NONE') throw new ConflictError('the cart does not exist');
      if (state.status === 'CHECKED_OUT') throw new ConflictError(`cart ${state.id} is already checked out`);
      if (state.items.length === 0) throw new ConflictError(`cart ${state.id} is empty`);
      return [{ type: 'CartCheckedOut', data: { cartId: state.id, orderId: command.orderId } }];
    default: {
      const unknown: never = command;
      throw new Error(`unknown cart command ${JSON.stringify(unknown)}`);
    }
  }
}

type CartEventLike = CartEvent | EventOfType<'CartCreated' | 'CartItemAdded' | 'CartCheckedOut'>;

/** Adding a product already in the cart adds to its quantity, at the latest price. */
export function evolveCart(state: Cart, event: CartEventLike): Cart {
  switch (event.type) {
    case 'CartCreated':
      return { status: 'OPEN', id: event.data.cartId, customerId: event.data.customerId, items: [], orderId: null };
    case 'CartItemAdded': {
      if (state.status === 'NONE') return state;
      const { productId, quantity, priceCents } = event.data;
      const existing = state.items.find((item) => item.productId === productId);
      const items = existing
        ? state.items.map((item) => (item.productId === productId ? { productId, quantity: item.quantity + quantity, priceCents } : item))
        : [...state.items, { productId, quantity, priceCents }];
      return { ...state, items };
    }
    case 'CartCheckedOut':
      if (state.status === 'NONE') return state;
      return { ...state, status: 'CHECKED_OUT', orderId: event.data.orderId };
    default: {
      const unknown: never = event;
      throw new Error(`unknown cart event ${JSON.stringify(unknown)}`);
    }
  }
}
