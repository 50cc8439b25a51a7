import { describe, expect, it } from 'vitest';
import { balanceDelta, decidePayment, evolvePayment, type Payment, type RefundRequest, refundable } from './payment.js';

const orderId = '0190a000-0000-7000-8000-000000000301';
const customerId = '0190a000-0000-7000-8000-000000000302';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000303', quantity: 1, priceCents: 1000 }];
const none: Payment = { status: 'NONE' };
const accepted = evolvePayment(none, { type: 'PaymentAccepted', data: { orderId, customerId, amountCents: 1000, lines } });
const request = (refundId: string, amountCents: number, extra: Partial<RefundRequest> = {}): RefundRequest => ({
  type: 'RequestRefund',
  refundId,
  orderId,
  customerId,
  amountCents,
  ...extra,
});
const r1 = '0190a000-0000-7000-8000-000000000311';
const r2 = '0190a000-0000-7000-8000-000000000312';
const complaintId = '0190a000-0000-7000-8000-000000000313';

describe('refund requests on a payment', () => {
  it('gives back part of a payment to its payer, the balance rising by as much', () => {
    const events = decidePayment(accepted, 0, request(r1, 400, { complaintId }));
    expect(events).toEqual([{ type: 'PaymentRefunded', data: { orderId, customerId, amountCents: 400, refundId: r1, complaintId } }]);
    expect(events.map(balanceDelta)).toEqual([400]);
    expect(refundable(events.reduce(evolvePayment, accepted))).toBe(600);
  });

  it('never gives back more than is left: a second request past the rest is rejected and moves nothing', () => {
    const after = decidePayment(accepted, 0, request(r1, 700)).reduce(evolvePayment, accepted);
    const rejected = decidePayment(after, 0, request(r2, 301));
    expect(rejected).toEqual([
      { type: 'RefundRejected', data: { refundId: r2, orderId, customerId, amountCents: 301, reason: 'EXCEEDS_PAYMENT' } },
    ]);
    expect(rejected.map(balanceDelta)).toEqual([0]);
    expect(decidePayment(after, 0, request(r2, 300))).toMatchObject([{ type: 'PaymentRefunded', data: { amountCents: 300 } }]);
  });

  it('answers each refund id once, accepted or rejected', () => {
    const refunded = decidePayment(accepted, 0, request(r1, 100)).reduce(evolvePayment, accepted);
    expect(decidePayment(refunded, 0, request(r1, 100))).toEqual([]);
    const rejected = decidePayment(accepted, 0, request(r2, 5000)).reduce(evolvePayment, accepted);
    expect(decidePayment(rejected, 0, request(r2, 5000))).toEqual([]);
  });

  it('rejects a refund of nothing taken, of a payment the cancellation gave back, or to someone else', () => {
    expect(decidePayment(none, 0, request(r1, 100))).toMatchObject([{ type: 'RefundRejected', data: { reason: 'NO_PAYMENT' } }]);
    const refused = evolvePayment(none, {
      type: 'PaymentRefused',
      data: { orderId, customerId, amountCents: 1000, reason: 'INSUFFICIENT_FUNDS' },
    });
    expect(decidePayment(refused, 0, request(r1, 100))).toMatchObject([{ type: 'RefundRejected', data: { reason: 'NO_PAYMENT' } }]);
    const cancelled = decidePayment(accepted, 0, { type: 'Refund', orderId }).reduce(evolvePayment, accepted);
    expect(decidePayment(cancelled, 0, request(r1, 100))).toMatchObject([{ type: 'RefundRejected', data: { reason: 'ALREADY_REFUNDED' } }]);
    const stranger = '0190a000-0000-7000-8000-000000000399';
    expect(decidePayment(accepted, 0, request(r1, 100, { customerId: stranger }))).toMatchObject([
      { type: 'RefundRejected', data: { reason: 'CUSTOMER_MISMATCH', customerId: stranger } },
    ]);
  });

  it('a cancellation after a partial refund gives back only the rest', () => {
    const partly = decidePayment(accepted, 0, request(r1, 250)).reduce(evolvePayment, accepted);
    expect(decidePayment(partly, 0, { type: 'Refund', orderId })).toEqual([
      { type: 'PaymentRefunded', data: { orderId, customerId, amountCents: 750 } },
    ]);
  });
});
