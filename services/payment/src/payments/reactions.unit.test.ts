import { createEvent, type EventData, type EventType } from '@jetsaga/events';
import { givenReaction } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { paymentReaction } from './reactions.js';

const orderId = '0190a000-0000-7000-8000-000000000601';
const customerId = '0190a000-0000-7000-8000-000000000602';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000603', quantity: 1, priceCents: 700 }];
const meta = {
  id: '0190a000-0000-7000-8000-000000000604',
  occurredAt: '2026-12-01T00:00:00Z',
  correlationId: orderId,
  causationId: 'x',
  actor: 'test',
};
const event = <T extends EventType>(type: T, data: EventData<T>) => createEvent(type, orderId, data, meta);
const reserved = event('StockReserved', { orderId, customerId, lines, totalCents: 700 });
const cancelled = event('OrderCancelled', { orderId, customerId, reason: 'DEADLINE_EXCEEDED' });
const balance = (cents: number) => new Map([[customerId, cents]]);

describe('payment reaction', () => {
  it('charges a reserved order the balance covers', () => {
    expect(givenReaction(paymentReaction, { shared: balance(1000) }).when(reserved)).toMatchObject({
      events: [{ type: 'PaymentAccepted', data: { orderId, customerId, amountCents: 700 } }],
    });
  });

  it('refuses one it does not cover', () => {
    expect(givenReaction(paymentReaction, { shared: balance(100) }).when(reserved)).toMatchObject({
      events: [{ type: 'PaymentRefused', data: { reason: 'INSUFFICIENT_FUNDS' } }],
    });
  });

  it('refunds a cancelled order that was paid', () => {
    const accepted = { type: 'PaymentAccepted', data: { orderId, customerId, amountCents: 700, lines } } as const;
    expect(givenReaction(paymentReaction, { events: [accepted], shared: balance(300) }).when(cancelled)).toMatchObject({
      events: [{ type: 'PaymentRefunded', data: { orderId, customerId, amountCents: 700 } }],
    });
  });

  it('leaves a tombstone for a cancellation before the charge, and then charges nothing', () => {
    const outcome = givenReaction(paymentReaction, { shared: balance(1000) }).when(cancelled);
    expect(outcome).toMatchObject({ events: [], tombstoned: true, state: { status: 'VOIDED' } });
    if (outcome.error || outcome.ignored) throw new Error('no outcome');
    expect(givenReaction(paymentReaction, { state: outcome.state, shared: balance(1000) }).when(reserved)).toMatchObject({ events: [] });
  });

  it('refunds a refund request from what is left of the payment, to the balance of its payer', () => {
    const accepted = { type: 'PaymentAccepted', data: { orderId, customerId, amountCents: 700, lines } } as const;
    const refundId = '0190a000-0000-7000-8000-000000000605';
    const requested = createEvent(
      'RefundRequested',
      refundId,
      { refundId, orderId, customerId, amountCents: 200, reason: 'COMPLAINT_RESOLVED' },
      meta,
    );
    const outcome = givenReaction(paymentReaction, { events: [accepted], shared: balance(300) }).when(requested);
    expect(outcome).toMatchObject({ id: orderId, events: [{ type: 'PaymentRefunded', data: { refundId, amountCents: 200 } }] });
    const tooMuch = createEvent(
      'RefundRequested',
      refundId,
      { refundId, orderId, customerId, amountCents: 701, reason: 'COMPLAINT_RESOLVED' },
      meta,
    );
    expect(givenReaction(paymentReaction, { events: [accepted], shared: balance(300) }).when(tooMuch)).toMatchObject({
      events: [{ type: 'RefundRejected', data: { reason: 'EXCEEDS_PAYMENT' } }],
    });
  });
});
