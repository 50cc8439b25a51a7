import { ConflictError, type Decider, given } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { type Cart, type CartCommand, type CartEvent, decideCart, evolveCart, initialCart } from './cart.js';

const cart: Decider<Cart, CartCommand, CartEvent> = { initialState: initialCart, decide: decideCart, evolve: evolveCart };
const cartId = '0190a000-0000-7000-8000-000000000001';
const customerId = '0190a000-0000-7000-8000-000000000002';
const lamp = '0190a000-0000-7000-8000-000000000003';
const orderId = '0190a000-0000-7000-8000-000000000004';

const created: CartEvent = { type: 'CartCreated', data: { cartId, customerId } };
const lampAdded = (quantity: number, priceCents = 2500): CartEvent => ({
  type: 'CartItemAdded',
  data: { cartId, productId: lamp, quantity, priceCents },
});

describe('cart', () => {
  it('opens once', () => {
    expect(given(cart, []).when({ type: 'CreateCart', cartId, customerId }).events).toEqual([created]);
    expect(given(cart, [created]).when({ type: 'CreateCart', cartId, customerId }).error).toBeInstanceOf(ConflictError);
  });

  it('adds items at the given price, merging a product added twice', () => {
    const spec = given(cart, [created, lampAdded(1, 2000)]);
    expect(spec.when({ type: 'AddItem', productId: lamp, quantity: 2, priceCents: 2500 }).events).toEqual([lampAdded(2)]);
    const state = [created, lampAdded(1, 2000), lampAdded(2)].reduce(evolveCart, initialCart);
    expect(state.status === 'OPEN' && state.items).toEqual([{ productId: lamp, quantity: 3, priceCents: 2500 }]);
  });

  it('checks out a non-empty cart once', () => {
    expect(given(cart, [created, lampAdded(1)]).when({ type: 'CheckOut', orderId }).events).toEqual([
      { type: 'CartCheckedOut', data: { cartId, orderId } },
    ]);
  });

  it('refuses to check out an empty cart', () => {
    const outcome = given(cart, [created]).when({ type: 'CheckOut', orderId });
    expect(outcome.error).toBeInstanceOf(ConflictError);
    expect(outcome.error?.message).toMatch(/empty/);
  });

  it('refuses any change after checkout', () => {
    const history = [created, lampAdded(1), { type: 'CartCheckedOut', data: { cartId, orderId } } as CartEvent];
    expect(given(cart, history).when({ type: 'CheckOut', orderId }).error?.message).toMatch(/already checked out/);
    expect(given(cart, history).when({ type: 'AddItem', productId: lamp, quantity: 1, priceCents: 1 }).error).toBeInstanceOf(ConflictError);
  });

  it('knows no unknown cart', () => {
    expect(given(cart, []).when({ type: 'AddItem', productId: lamp, quantity: 1, priceCents: 1 }).error).toBeInstanceOf(ConflictError);
  });
});
