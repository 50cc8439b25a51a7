import type { OrderLine } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import {
  decideReservation,
  evolveReservation,
  type Reservation,
  type ReservationEvent,
  type StockLevels,
  stockDeltas,
} from './reservation.js';

const orderId = '0190a000-0000-7000-8000-000000000101';
const customerId = '0190a000-0000-7000-8000-000000000102';
const lamp = '0190a000-0000-7000-8000-000000000103';
const desk = '0190a000-0000-7000-8000-000000000104';
const lines: OrderLine[] = [
  { productId: lamp, quantity: 2, priceCents: 100 },
  { productId: desk, quantity: 1, priceCents: 900 },
];
const none: Reservation = { status: 'NONE' };
const stock = (lampAvailable: number, deskAvailable: number): StockLevels =>
  new Map([
    [lamp, { available: lampAvailable, reserved: 0 }],
    [desk, { available: deskAvailable, reserved: 0 }],
  ]);
const reserve = { type: 'Reserve', orderId, customerId, lines, totalCents: 1100 } as const;
const reserved: ReservationEvent = { type: 'StockReserved', data: { orderId, customerId, lines, totalCents: 1100 } };

describe('reservation', () => {
  it('reserves every line when all are in stock', () => {
    expect(decideReservation(none, stock(2, 1), reserve)).toEqual([reserved]);
  });

  it('reserves nothing when one line is short, and names the shortage', () => {
    expect(decideReservation(none, stock(5, 0), reserve)).toEqual([
      { type: 'StockUnavailable', data: { orderId, shortages: [{ productId: desk, requested: 1, available: 0 }] } },
    ]);
  });

  it('adds up lines naming the same product', () => {
    const twice = { ...reserve, lines: [lines[0] as OrderLine, lines[0] as OrderLine] };
    expect(decideReservation(none, stock(3, 0), twice)[0]?.type).toBe('StockUnavailable');
    expect(decideReservation(none, stock(4, 0), twice)[0]?.type).toBe('StockReserved');
  });

  it('treats an unknown product as out of stock', () => {
    expect(decideReservation(none, new Map(), reserve)[0]?.type).toBe('StockUnavailable');
  });

  it('releases a reservation once, and commits one once', () => {
    const state = evolveReservation(none, reserved);
    const released = decideReservation(state, stock(0, 0), { type: 'Release', orderId, reason: 'PAYMENT_REFUSED' });
    expect(released).toEqual([{ type: 'StockReleased', data: { orderId, lines, reason: 'PAYMENT_REFUSED' } }]);
    const afterRelease = released.reduce(evolveReservation, state);
    expect(decideReservation(afterRelease, stock(0, 0), { type: 'Release', orderId, reason: 'ORDER_CANCELLED' })).toEqual([]);
    expect(decideReservation(afterRelease, stock(0, 0), { type: 'Commit', orderId })).toEqual([]);
    expect(decideReservation(state, stock(0, 0), { type: 'Commit', orderId })).toEqual([
      { type: 'StockCommitted', data: { orderId, lines } },
    ]);
  });

  it('leaves a tombstone when a cancellation arrives before the order, and then reserves nothing', () => {
    const voided: Reservation = { status: 'VOIDED', orderId, lines: [] };
    expect(decideReservation(voided, stock(9, 9), reserve)).toEqual([]);
  });

  it('puts committed units back on the shelf when their sale is cancelled, and only those', () => {
    const committed: Reservation = { status: 'COMMITTED', orderId, lines };
    const restocked = decideReservation(committed, stock(0, 0), { type: 'Restock', orderId });
    expect(restocked).toEqual([{ type: 'StockRestocked', data: { orderId, lines } }]);
    expect(stockDeltas(restocked[0] as ReservationEvent)).toEqual([
      { productId: lamp, available: 2, reserved: 0 },
      { productId: desk, available: 1, reserved: 0 },
    ]);
    const again = restocked.reduce(evolveReservation, committed);
    expect(decideReservation(again, stock(0, 0), { type: 'Restock', orderId })).toEqual([]);
    const released: Reservation = { status: 'RELEASED', orderId, lines };
    expect(decideReservation(released, stock(0, 0), { type: 'Restock', orderId })).toEqual([]);
  });

  it('moves stock from available to reserved, back, or out', () => {
    expect(stockDeltas(reserved)).toEqual([
      { productId: lamp, available: -2, reserved: 2 },
      { productId: desk, available: -1, reserved: 1 },
    ]);
    expect(stockDeltas({ type: 'StockCommitted', data: { orderId, lines } })).toEqual([
      { productId: lamp, available: 0, reserved: -2 },
      { productId: desk, available: 0, reserved: -1 },
    ]);
  });
});
