import { describe, expect, it } from 'vitest';
import { balanceDelta, decidePayment, evolvePayment, type Payment } from './payment.js';

const orderId = '0190a000-0000-7000-8000-000000000201';
const customerId = '0190a000-0000-7000-8000-000000000202';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000203', quantity: 1, priceCents: 700 }];
const charge = { type: 'Charge', orderId, customerId, amountCents: 700, lines } as const;
const none: Payment = { status: 'NONE' };

describe('payment', () => {
  it('debits when the balance covers the amount, to the cent', () => {
    const events = decidePayment(none, 700, charge);
    expect(events).toEqual([{ type: 'PaymentAccepted', data: { orderId, customerId, amountCents: 700, lines } }]);
    expect(events.map(balanceDelta)).toEqual([-700]);
  });

  it('refuses when it does not', () => {
    expect(decidePayment(none, 699, charge)).toEqual([
      { type: 'PaymentRefused', data: { orderId, customerId, amountCents: 700, reason: 'INSUFFICIENT_FUNDS' } },
    ]);
  });

  it('charges an order once', () => {
    const accepted = decidePayment(none, 10_000, charge).reduce(evolvePayment, none);
    expect(decidePayment(accepted, 10_000, charge)).toEqual([]);
  });

  it('refunds what was taken, once', () => {
    const accepted = decidePayment(none, 10_000, charge).reduce(evolvePayment, none);
    const refund = decidePayment(accepted, 0, { type: 'Refund', orderId });
    expect(refund).toEqual([{ type: 'PaymentRefunded', data: { orderId, customerId, amountCents: 700 } }]);
    expect(refund.map(balanceDelta)).toEqual([700]);
    expect(decidePayment(refund.reduce(evolvePayment, accepted), 0, { type: 'Refund', orderId })).toEqual([]);
  });

  it('refunds nothing that was refused, and charges nothing after a cancellation tombstone', () => {
    const refused = decidePayment(none, 0, charge).reduce(evolvePayment, none);
    expect(decidePayment(refused, 0, { type: 'Refund', orderId })).toEqual([]);
    expect(
      decidePayment({ status: 'VOIDED', orderId, customerId: null, amountCents: 0, refundedCents: 0, refundIds: [] }, 10_000, charge),
    ).toEqual([]);
  });
});
