import { createEvent, type EventData, type EventType } from '@jetsaga/events';
import { givenReaction } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { inventoryReaction } from './reactions.js';

const orderId = '0190a000-0000-7000-8000-000000000501';
const customerId = '0190a000-0000-7000-8000-000000000502';
const lamp = '0190a000-0000-7000-8000-000000000503';
const lines = [{ productId: lamp, quantity: 2, priceCents: 100 }];
const meta = {
  id: '0190a000-0000-7000-8000-000000000504',
  occurredAt: '2026-12-01T00:00:00Z',
  correlationId: orderId,
  causationId: 'x',
  actor: 'test',
};
const event = <T extends EventType>(type: T, data: EventData<T>) => createEvent(type, orderId, data, meta);
const placed = event('OrderPlaced', { orderId, cartId: orderId, customerId, lines, totalCents: 200, deadlineAt: '2026-12-01T00:00:30Z' });
const stock = (available: number) => new Map([[lamp, { available, reserved: 0 }]]);

describe('inventory reaction', () => {
  it('reserves an order whose every line is in stock', () => {
    const outcome = givenReaction(inventoryReaction, { shared: stock(5) }).when(placed);
    expect(outcome).toMatchObject({ id: orderId, events: [{ type: 'StockReserved', data: { orderId, lines } }], tombstoned: false });
  });

  it('reports the shortage of an order it cannot reserve', () => {
    const outcome = givenReaction(inventoryReaction, { shared: stock(1) }).when(placed);
    expect(outcome).toMatchObject({
      events: [{ type: 'StockUnavailable', data: { shortages: [{ productId: lamp, requested: 2, available: 1 }] } }],
    });
  });

  it('leaves a tombstone for a cancellation that arrives before the order, and then reserves nothing', () => {
    const cancelled = event('OrderCancelled', { orderId, customerId, reason: 'DEADLINE_EXCEEDED' });
    const outcome = givenReaction(inventoryReaction, { shared: stock(5) }).when(cancelled);
    expect(outcome).toMatchObject({ events: [], tombstoned: true, state: { status: 'VOIDED' } });
    if (outcome.error || outcome.ignored) throw new Error('no outcome');
    expect(givenReaction(inventoryReaction, { state: outcome.state, shared: stock(5) }).when(placed)).toMatchObject({ events: [] });
  });

  it('releases a reservation when payment is refused', () => {
    const reserved = { type: 'StockReserved', data: { orderId, customerId, lines, totalCents: 200 } } as const;
    const refused = event('PaymentRefused', { orderId, customerId, amountCents: 200, reason: 'INSUFFICIENT_FUNDS' });
    const outcome = givenReaction(inventoryReaction, { events: [reserved], shared: stock(3) }).when(refused);
    expect(outcome).toMatchObject({ events: [{ type: 'StockReleased', data: { orderId, lines, reason: 'PAYMENT_REFUSED' } }] });
  });
});
