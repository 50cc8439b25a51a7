import { describe, expect, it } from 'vitest';
import { decideSale, evolveSale, PaymentMismatchError, type Sale, UnknownOrderError, UNKNOWN_ORDER_RETRY_MS } from './sale.js';

const orderId = '0190a000-0000-7000-8000-000000000301';
const customerId = '0190a000-0000-7000-8000-000000000302';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000303', quantity: 3, priceCents: 100 }];
const confirm = { type: 'ConfirmSale', orderId, customerId, lines, totalCents: 300 } as const;
const confirmed: Sale = { status: 'CONFIRMED', orderId, customerId, lines, totalCents: 300 };
const placed = new Map([[orderId, { customerId, totalCents: 300 }]]);

describe('sale', () => {
  it('is confirmed once per paid order', () => {
    expect(decideSale({ status: 'NONE' }, confirm, placed)).toEqual([
      { type: 'SaleConfirmed', data: { orderId, customerId, lines, totalCents: 300 } },
    ]);
    expect(decideSale(confirmed, confirm)).toEqual([]);
  });

  it('is never confirmed for an order cancelled before its payment arrived', () => {
    expect(decideSale({ status: 'VOIDED', orderId }, confirm)).toEqual([]);
  });

  it('is cancelled, once, when its order was cancelled after it was confirmed (the deadline crossed the payment)', () => {
    const events = decideSale(confirmed, { type: 'VoidSale', orderId });
    expect(events).toEqual([{ type: 'SaleCancelled', data: { orderId, customerId, lines, totalCents: 300 } }]);
    const cancelled = events.reduce(evolveSale, confirmed);
    expect(cancelled.status).toBe('CANCELLED');
    expect(decideSale(cancelled, { type: 'VoidSale', orderId })).toEqual([]);
    expect(decideSale(cancelled, confirm)).toEqual([]);
  });

  it('is refused for an order sales never saw placed: retried a few times, in case its OrderPlaced is late', () => {
    const refusal = (() => {
      try {
        decideSale({ status: 'NONE' }, confirm, new Map());
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(UnknownOrderError);
    expect((refusal as UnknownOrderError).retryDelaysMs).toEqual(UNKNOWN_ORDER_RETRY_MS);
    expect(String(refusal)).toMatch(/never placed/);
  });

  it('is refused at once when the payment contradicts its order: another amount, or another customer', () => {
    expect(() => decideSale({ status: 'NONE' }, { ...confirm, totalCents: 99_999 }, placed)).toThrow(PaymentMismatchError);
    expect(() => decideSale({ status: 'NONE' }, { ...confirm, customerId: orderId }, placed)).toThrow(/placed for 300 cents/);
  });
});
