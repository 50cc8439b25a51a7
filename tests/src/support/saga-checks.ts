import { waitFor } from '@jetsaga/devstack';
import { expect } from 'vitest';
import type { Api, Order } from './api.js';

/**
 * The saga's outcomes as a client of the gateway sees them, asserted through the HTTP API alone, so the same checks
 * run against `npm start`'s processes and against a cluster behind `kubectl port-forward`. Stock and balances settle
 * a moment after an order ends (the last events are still being consumed), hence the waits.
 */
export type SagaChecks = {
  /** Every balance the checks opened, for a money-conservation check by the caller. */
  openedCents(): number;
  /** A customer opened with this balance, counted in openedCents (for the caller's own scenarios). */
  customer(balanceCents: number): Promise<{ id: string; balanceCents: number }>;
  completed(): Promise<Order>;
  outOfStock(): Promise<Order>;
  paymentRefused(): Promise<Order>;
  /**
   * `buyers` concurrent checkouts of one unit against `stock` units: exactly `stock` complete, and the product read
   * while they run never shows fewer than zero units available.
   */
  stockRace(buyers: number, stock: number): Promise<Order[]>;
  /** `attempts` simultaneous checkouts of one cart: one 202, the rest 409 problems, one order. */
  cartRace(attempts: number): Promise<Order>;
};

async function settled<T>(what: string, read: () => Promise<T>, expected: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  return waitFor(
    what,
    async () => {
      const value = await read();
      return expected(value) ? value : undefined;
    },
    timeoutMs,
    100,
  );
}

export function sagaChecks(api: Api): SagaChecks {
  let opened = 0;
  const customer = async (balanceCents: number) => {
    const created = await api.customer(balanceCents);
    opened += balanceCents;
    return created;
  };
  const stockIs = (productId: string, available: number) =>
    settled(
      `product ${productId} at ${available} available, none reserved`,
      () => api.getProduct(productId),
      (p) => p.available === available && p.reserved === 0,
    );
  const balanceIs = (customerId: string, cents: number) =>
    settled(
      `customer ${customerId} at ${cents} cents`,
      () => api.getCustomer(customerId),
      (c) => c.balanceCents === cents,
    );

  return {
    openedCents: () => opened,
    customer,

    async completed() {
      const ada = await customer(10_000);
      const lamp = await api.product(5, 1_500);
      const orderId = await api.buy(ada.id, lamp.id, 2);
      const order = await api.terminal(orderId);
      expect(order).toMatchObject({
        id: orderId,
        customerId: ada.id,
        status: 'COMPLETED',
        totalCents: 3_000,
        lines: [{ productId: lamp.id, quantity: 2, priceCents: 1_500 }],
      });
      expect(order.reason).toBeUndefined();
      await stockIs(lamp.id, 3);
      await balanceIs(ada.id, 7_000);
      return order;
    },

    async outOfStock() {
      const bob = await customer(1_000_000);
      const scarce = await api.product(1, 100);
      const plenty = await api.product(50, 100);
      const cart = await api.cart(bob.id);
      await api.addItem(cart.id, plenty.id, 3);
      await api.addItem(cart.id, scarce.id, 2);
      const order = await api.terminal(await api.checkout(cart.id));
      expect(order).toMatchObject({ status: 'CANCELLED', reason: 'OUT_OF_STOCK' });
      await stockIs(plenty.id, 50);
      await stockIs(scarce.id, 1);
      await balanceIs(bob.id, 1_000_000);
      return order;
    },

    async paymentRefused() {
      const carol = await customer(999);
      const desk = await api.product(4, 1_000);
      const order = await api.terminal(await api.buy(carol.id, desk.id, 1));
      expect(order).toMatchObject({ status: 'CANCELLED', reason: 'PAYMENT_REFUSED' });
      await stockIs(desk.id, 4);
      await balanceIs(carol.id, 999);
      return order;
    },

    async stockRace(buyers, stock) {
      const price = 250;
      const widget = await api.product(stock, price);
      const people = await Promise.all(Array.from({ length: buyers }, () => customer(10_000)));
      const carts = await Promise.all(
        people.map(async (person) => {
          const cart = await api.cart(person.id);
          await api.addItem(cart.id, widget.id, 1);
          return cart.id;
        }),
      );
      let watching = true;
      const observed: number[] = [];
      const watcher = (async () => {
        while (watching) {
          observed.push((await api.getProduct(widget.id)).available);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const orders = await Promise.all((await Promise.all(carts.map((cartId) => api.checkout(cartId)))).map((id) => api.terminal(id)));
      watching = false;
      await watcher;
      expect(observed.length).toBeGreaterThan(0);
      expect(Math.min(...observed)).toBeGreaterThanOrEqual(0);
      const completed = orders.filter((order) => order.status === 'COMPLETED');
      const cancelled = orders.filter((order) => order.status === 'CANCELLED');
      expect(completed).toHaveLength(stock);
      expect(cancelled).toHaveLength(buyers - stock);
      expect(new Set(cancelled.map((order) => order.reason))).toEqual(new Set(['OUT_OF_STOCK']));
      await stockIs(widget.id, 0);
      const balances = await Promise.all(people.map((person) => api.getCustomer(person.id)));
      expect(balances.filter((balance) => balance.balanceCents === 10_000 - price)).toHaveLength(stock);
      expect(balances.filter((balance) => balance.balanceCents === 10_000)).toHaveLength(buyers - stock);
      return orders;
    },

    async cartRace(attempts) {
      const dave = await customer(100_000);
      const pen = await api.product(100, 120);
      const cart = await api.cart(dave.id);
      await api.addItem(cart.id, pen.id, 2);
      const responses = await Promise.all(Array.from({ length: attempts }, () => api.call('POST', `/api/carts/${cart.id}/checkout`)));
      expect(responses.map((response) => response.status).sort()).toEqual([202, ...Array(attempts - 1).fill(409)]);
      const accepted = responses.find((response) => response.status === 202);
      expect(accepted?.headers.get('location')).toBe(`/api/orders/${accepted?.body.orderId}`);
      for (const refused of responses.filter((response) => response.status === 409)) {
        expect(refused.headers.get('content-type')).toBe('application/problem+json');
      }
      expect((await api.call('GET', `/api/carts/${cart.id}`)).body).toMatchObject({
        status: 'CHECKED_OUT',
        orderId: accepted?.body.orderId,
      });
      const order = await api.terminal(accepted?.body.orderId);
      expect(order.status).toBe('COMPLETED');
      await stockIs(pen.id, 98);
      await balanceIs(dave.id, 100_000 - 240);
      return order;
    },
  };
}
