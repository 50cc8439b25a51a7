import type { OrderLine } from '@jetsaga/events';
import { type Decider, given } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { decideOrder, evolveOrder, initialOrder, type Order, type OrderCommand, type OrderEvent } from './order.js';

const order: Decider<Order, OrderCommand, OrderEvent> = { initialState: initialOrder, decide: decideOrder, evolve: evolveOrder };
const orderId = '0190a000-0000-7000-8000-00000000000a';
const cartId = '0190a000-0000-7000-8000-00000000000b';
const customerId = '0190a000-0000-7000-8000-00000000000c';
const lines: OrderLine[] = [
  { productId: '0190a000-0000-7000-8000-00000000000d', quantity: 2, priceCents: 1250 },
  { productId: '0190a000-0000-7000-8000-00000000000e', quantity: 1, priceCents: 999 },
];
const deadlineAt = '2026-11-21T21:00:00Z';
const placed: OrderEvent = {
  type: 'OrderPlaced',
  data: { orderId, cartId, customerId, lines, totalCents: 2 * 1250 + 999, deadlineAt },
};
const completed: OrderEvent = { type: 'OrderCompleted', data: { orderId } };
const cancelled = (reason: 'OUT_OF_STOCK' | 'PAYMENT_REFUSED' | 'DEADLINE_EXCEEDED'): OrderEvent => ({
  type: 'OrderCancelled',
  data: { orderId, customerId, reason },
});

describe('order', () => {
  it('is placed with the total of its lines', () => {
    expect(given(order, []).when({ type: 'PlaceOrder', orderId, cartId, customerId, lines, deadlineAt }).events).toEqual([placed]);
  });

  it('carries the shipping address the checkout named, and none when it named none', () => {
    const shippingAddress = { line1: '2 Main St', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' };
    const command = { type: 'PlaceOrder', orderId, cartId, customerId, lines, deadlineAt, shippingAddress } as const;
    expect(given(order, []).when(command).events).toEqual([{ ...placed, data: { ...placed.data, shippingAddress } }]);
    expect(placed.data).not.toHaveProperty('shippingAddress');
  });

  it('completes when the sale is confirmed', () => {
    expect(given(order, [placed]).when({ type: 'CompleteOrder' }).events).toEqual([completed]);
  });

  it.each(['OUT_OF_STOCK', 'PAYMENT_REFUSED', 'DEADLINE_EXCEEDED'] as const)('is cancelled for %s', (reason) => {
    expect(given(order, [placed]).when({ type: 'CancelOrder', reason }).events).toEqual([cancelled(reason)]);
  });

  it('is not resurrected by a late sale after a deadline', () => {
    expect(given(order, [placed, cancelled('DEADLINE_EXCEEDED')]).when({ type: 'CompleteOrder' }).events).toEqual([]);
  });

  it('is not cancelled twice, nor after completion', () => {
    expect(given(order, [placed, cancelled('OUT_OF_STOCK')]).when({ type: 'CancelOrder', reason: 'DEADLINE_EXCEEDED' }).events).toEqual([]);
    expect(given(order, [placed, completed]).when({ type: 'CancelOrder', reason: 'DEADLINE_EXCEEDED' }).events).toEqual([]);
  });

  it('keeps the reason of its cancellation', () => {
    const state = given(order, [placed, cancelled('PAYMENT_REFUSED')]).state;
    expect(state.status === 'CANCELLED' && state.reason).toBe('PAYMENT_REFUSED');
  });
});
