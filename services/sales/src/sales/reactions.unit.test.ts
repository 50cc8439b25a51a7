import { createEvent, type EventData, type EventType } from '@jetsaga/events';
import { givenReaction, PermanentError } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { salesReaction as reactionWith } from './reactions.js';
import { UnknownOrderError } from './sale.js';

/** No event log behind it: the rules alone (the log is read in the pipeline's load, before decide). */
const salesReaction = reactionWith();

const orderId = '0190a000-0000-7000-8000-000000000701';
const customerId = '0190a000-0000-7000-8000-000000000702';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000703', quantity: 3, priceCents: 100 }];
const meta = {
  id: '0190a000-0000-7000-8000-000000000704',
  occurredAt: '2026-12-01T00:00:00Z',
  correlationId: orderId,
  causationId: 'x',
  actor: 'test',
};
const event = <T extends EventType>(type: T, data: EventData<T>) => createEvent(type, orderId, data, meta);
const accepted = event('PaymentAccepted', { orderId, customerId, amountCents: 300, lines });
const cancelled = event('OrderCancelled', { orderId, customerId, reason: 'DEADLINE_EXCEEDED' });

const placed = new Map([[orderId, { customerId, totalCents: 300 }]]);

describe('sales reaction', () => {
  it('confirms the sale of a paid order it saw placed', () => {
    expect(givenReaction(salesReaction, { shared: placed }).when(accepted)).toMatchObject({
      events: [{ type: 'SaleConfirmed', data: { orderId, customerId, lines, totalCents: 300 } }],
    });
  });

  it('takes a confirmed sale off the books when its order is cancelled', () => {
    const confirmed = { type: 'SaleConfirmed', data: { orderId, customerId, lines, totalCents: 300 } } as const;
    expect(givenReaction(salesReaction, { events: [confirmed] }).when(cancelled)).toMatchObject({ events: [{ type: 'SaleCancelled' }] });
  });

  it('leaves a tombstone for a cancellation before the payment, and then confirms nothing', () => {
    const outcome = givenReaction(salesReaction).when(cancelled);
    expect(outcome).toMatchObject({ events: [], tombstoned: true, state: { status: 'VOIDED', orderId } });
    if (outcome.error || outcome.ignored) throw new Error('no outcome');
    expect(givenReaction(salesReaction, { state: outcome.state, shared: placed }).when(accepted)).toMatchObject({ events: [] });
  });

  it('given no OrderPlaced for it, when a PaymentAccepted arrives, then no sale: a refusal, retried, then dead-lettered', () => {
    const outcome = givenReaction(salesReaction, { shared: new Map() }).when(accepted);
    expect(outcome.error).toBeInstanceOf(UnknownOrderError);
    expect(outcome.error?.message).toMatch(/never placed/);
  });

  it('given the order placed for 300 cents, when a PaymentAccepted says 99,999, then no sale and a permanent refusal', () => {
    const forged = event('PaymentAccepted', { orderId, customerId, amountCents: 99_999, lines });
    const outcome = givenReaction(salesReaction, { shared: placed }).when(forged);
    expect(outcome.error).toBeInstanceOf(PermanentError);
    expect(outcome.error?.message).toMatch(/99999 cents.*placed for 300 cents/);
  });

  it('given a confirmed sale, when its PaymentAccepted comes again, then nothing, whatever sales knows', () => {
    const confirmed = { type: 'SaleConfirmed', data: { orderId, customerId, lines, totalCents: 300 } } as const;
    expect(givenReaction(salesReaction, { events: [confirmed], shared: new Map() }).when(accepted)).toMatchObject({ events: [] });
  });
});
