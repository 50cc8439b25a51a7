import { describe, expect, it } from 'vitest';
import { decideSale, evolveSale, type Sale } from './sale.js';

const orderId = '0190a000-0000-7000-8000-000000000301';
const customerId = '0190a000-0000-7000-8000-000000000302';
const lines = [{ productId: '0190a000-0000-7000-8000-000000000303', quantity: 3, priceCents: 100 }];
const confirm = { type: 'ConfirmSale', orderId, customerId, lines, totalCents: 300 } as const;
const confirmed: Sale = { status: 'CONFIRMED', orderId, customerId, lines, totalCents: 300 };

describe('sale', () => {
  it('is confirmed once per paid order', () => {
    expect(decideSale({ status: 'NONE' }, confirm)).toEqual([
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
});
