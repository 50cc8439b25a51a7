import { createEvent, type EventData, type EventType, InvalidEventError } from '@jetsaga/events';
import { givenReaction } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { deadlineReaction, orderReaction } from './reactions.js';

const orderId = '0190a000-0000-7000-8000-000000000801';
const customerId = '0190a000-0000-7000-8000-000000000802';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000803', quantity: 1, priceCents: 100 }];
const meta = {
  id: '0190a000-0000-7000-8000-000000000804',
  occurredAt: '2026-12-01T00:00:00Z',
  correlationId: orderId,
  causationId: 'x',
  actor: 'test',
};
const event = <T extends EventType>(type: T, data: EventData<T>) => createEvent(type, orderId, data, meta);
const placed = {
  type: 'OrderPlaced',
  data: { orderId, cartId: orderId, customerId, lines, totalCents: 100, deadlineAt: '2026-12-01T00:00:30Z' },
} as const;
const deadline = { deadlineId: meta.id, orderId, correlationId: orderId, causationId: 'x', deadlineAt: placed.data.deadlineAt };

describe('order reactions', () => {
  it('completes a pending order when its sale is confirmed', () => {
    const confirmed = event('SaleConfirmed', { orderId, customerId, lines, totalCents: 100 });
    expect(givenReaction(orderReaction, { events: [placed] }).when(confirmed)).toMatchObject({
      events: [{ type: 'OrderCompleted', data: { orderId } }],
      state: { status: 'COMPLETED' },
    });
  });

  it('cancels a pending order out of stock, and a late confirmation changes nothing', () => {
    const unavailable = event('StockUnavailable', { orderId, shortages: [] });
    const outcome = givenReaction(orderReaction, { events: [placed] }).when(unavailable);
    expect(outcome).toMatchObject({ events: [{ type: 'OrderCancelled', data: { reason: 'OUT_OF_STOCK' } }] });
    if (outcome.error || outcome.ignored) throw new Error('no outcome');
    const confirmed = event('SaleConfirmed', { orderId, customerId, lines, totalCents: 100 });
    expect(givenReaction(orderReaction, { state: outcome.state }).when(confirmed)).toMatchObject({ events: [] });
  });

  it('cancels a pending order whose deadline fired', () => {
    expect(givenReaction(deadlineReaction, { events: [placed] }).when(deadline)).toMatchObject({
      events: [{ type: 'OrderCancelled', data: { reason: 'DEADLINE_EXCEEDED' } }],
    });
  });

  it('refuses a reaction for an order it never placed', () => {
    const outcome = givenReaction(deadlineReaction).when(deadline);
    expect(outcome.error).toBeInstanceOf(InvalidEventError);
  });

  it('ignores what it does not react to', () => {
    expect(givenReaction(orderReaction).when(event('OrderCompleted', { orderId }))).toEqual({ ignored: true });
  });
});
