import { waitFor } from '@jetsaga/devstack';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { expect } from 'vitest';
import type { Order } from '../support/api.js';
import type { ClusterUnderTest } from './cluster.js';

/** Products and customers made for one test, with what they started with. */
export type Ledger = { stock: Map<string, number>; balances: Map<string, number> };

/**
 * The tests' port-forward to the gateway sticks to one pod and is started again when that pod goes (a rollout, pod
 * loss): until then the host cannot reach the gateway. Waits for it to answer again.
 */
export async function gatewayReachable(cluster: ClusterUnderTest): Promise<void> {
  await waitFor(
    'the gateway to answer through the port-forward',
    async () =>
      (await fetch(`${cluster.gatewayUrl}/readyz`).then(
        (r) => r.status,
        () => 0,
      )) === 200
        ? true
        : undefined,
    120_000,
    250,
  );
}

/**
 * The same for every port-forward the suites use: the gateway, and Postgres (an upgrade may roll its pod, and a query
 * through the forward then fails until kubectl is started again). A fresh connection each try: a pool would hand
 * out one the old forward cut.
 */
export async function forwardsReachable(cluster: ClusterUnderTest): Promise<void> {
  await gatewayReachable(cluster);
  await waitFor(
    'Postgres to answer through the port-forward',
    async () => {
      const client = new pg.Client({ connectionString: process.env.JETSAGA_CLUSTER_DATABASE_URL, connectionTimeoutMillis: 5_000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return undefined;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    120_000,
    250,
  );
}

export async function openLedger(cluster: ClusterUnderTest, products: number, customers: number, stock = 200): Promise<Ledger> {
  const { api } = cluster;
  await forwardsReachable(cluster);
  const made = await Promise.all(Array.from({ length: products }, (_, i) => api.product(stock, 400 + 150 * i)));
  // One customer in five cannot pay for much: some sagas end PAYMENT_REFUSED and are compensated.
  const people = await Promise.all(Array.from({ length: customers }, (_, i) => api.customer(i % 5 === 0 ? 500 : 500_000)));
  return {
    stock: new Map(made.map((product) => [product.id, stock])),
    balances: new Map(people.map((customer) => [customer.id, customer.balanceCents])),
  };
}

export type Settlement = {
  outcomes: Record<string, number>;
  completed: number;
  revenueCents: number;
  /** Orders of the ledger's customers whose checkout answer the client never got (a failed request that took effect). */
  unanswered: number;
};

/** Waits (up to 5 minutes) until each of these orders is COMPLETED or CANCELLED, and returns them by id. */
export async function endedOrders(cluster: ClusterUnderTest, orderIds: readonly string[]): Promise<Map<string, Order>> {
  const orders = new Map<string, Order>();
  await waitFor(
    `every one of ${orderIds.length} orders to be COMPLETED or CANCELLED`,
    async () => {
      for (const id of orderIds) {
        if (orders.has(id)) continue;
        const response = await cluster.api.call('GET', `/api/orders/${id}`);
        if (response.status === 200 && response.body.status !== 'PENDING') orders.set(id, response.body);
      }
      return orders.size === orderIds.length;
    },
    300_000,
    1_000,
  );
  return orders;
}

/** How many orders ended each way (the refusal's reason, or the status). */
export function outcomesOf(orders: Map<string, Order>): Record<string, number> {
  const outcomes: Record<string, number> = {};
  for (const order of orders.values()) outcomes[order.reason ?? order.status] = (outcomes[order.reason ?? order.status] ?? 0) + 1;
  return outcomes;
}

/**
 * Every order of the ledger's customers, as the event store's order list has them, once it holds at least the ones
 * the clients know of: a checkout whose answer was lost may still have placed its order, and it counts for stock and
 * money like any other.
 */
async function ordersOfLedger(cluster: ClusterUnderTest, ledger: Ledger, known: readonly string[]): Promise<string[]> {
  return waitFor(
    'the order list to hold every order the clients know of',
    async () => {
      const all = new Set<string>();
      for (const customerId of ledger.balances.keys()) {
        let after: string | null = null;
        do {
          const query: string = `customerId=${customerId}&limit=500${after ? `&after=${after}` : ''}`;
          const page = (await cluster.api.call('GET', `/api/orders?${query}`)).body as {
            orders?: Array<{ id: string }>;
            next: string | null;
          };
          for (const order of page.orders ?? []) all.add(order.id);
          after = page.next;
        } while (after);
      }
      return known.every((id) => all.has(id)) ? [...all] : undefined;
    },
    180_000,
    1_000,
  );
}

/**
 * Every order of the ledger's customers (those of `known` and any whose answer was lost) ends (COMPLETED or CANCELLED); then stock and money add up for the ledger's products and
 * customers (what completed orders took, nothing reserved, refusals and compensations cost nothing), nothing is
 * dead-lettered, and the Postgres mirror verifies against EVENTS.
 */
export async function expectSettled(cluster: ClusterUnderTest, ledger: Ledger, known: readonly string[]): Promise<Settlement> {
  const { api } = cluster;
  await forwardsReachable(cluster);
  const orderIds = await ordersOfLedger(cluster, ledger, known);
  const orders = await endedOrders(cluster, orderIds);
  const outcomes = outcomesOf(orders);
  const completed = [...orders.values()].filter((order) => order.status === 'COMPLETED');
  const sold = new Map<string, number>();
  const paid = new Map<string, number>();
  for (const order of completed) {
    for (const line of order.lines) sold.set(line.productId, (sold.get(line.productId) ?? 0) + line.quantity);
    paid.set(order.customerId, (paid.get(order.customerId) ?? 0) + order.totalCents);
  }
  for (const [productId, stock] of ledger.stock) {
    await waitFor(
      `product ${productId} settled`,
      async () => {
        const product = await api.getProduct(productId);
        return product.available === stock - (sold.get(productId) ?? 0) && product.reserved === 0;
      },
      120_000,
      500,
    );
  }
  for (const [customerId, balance] of ledger.balances) {
    await waitFor(
      `customer ${customerId} settled`,
      async () => (await api.getCustomer(customerId)).balanceCents === balance - (paid.get(customerId) ?? 0),
      120_000,
      500,
    );
  }
  await expectNoDeadLetters(cluster);
  await expectMirrorVerifies(cluster);
  return {
    outcomes,
    completed: completed.length,
    revenueCents: completed.reduce((sum, order) => sum + order.totalCents, 0),
    unanswered: orderIds.length - known.length,
  };
}

export async function expectNoDeadLetters(cluster: ClusterUnderTest): Promise<void> {
  const letters = ((await cluster.api.call('GET', '/api/dlq?limit=100')).body?.messages ?? []) as Array<Record<string, unknown>>;
  expect(letters.map((letter) => `${letter.consumer} ${letter.reason} ${letter.subject}: ${letter.error}`)).toEqual([]);
  expect((await (await jetstreamManager(await cluster.nats())).streams.info('DLQ')).state.messages).toBe(0);
}

/** The event store's reconciliation of its Postgres mirror with EVENTS (positions and payloads): ok, once caught up. */
export async function expectMirrorVerifies(cluster: ClusterUnderTest): Promise<{ stream: { count: number } }> {
  const verification = await waitFor(
    'the mirror to catch up and verify',
    async () => {
      const response = await cluster.api.call('GET', '/api/event-store/verify');
      return response.status === 200 && response.body.ok ? response.body : undefined;
    },
    180_000,
    1_000,
  );
  expect(verification).toMatchObject({ ok: true, missing: [], extra: [] });
  return verification;
}
