import { waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../support/api.js';
import { type ClusterUnderTest, clusterUnderTest, isReady, type Pod, podsOf } from './cluster.js';
import { endedOrders, forwardsReachable, outcomesOf } from './settled.js';

const cluster: ClusterUnderTest = clusterUnderTest();
const { api, namespace } = cluster;

const SAGAS = 240;
/** Checkouts are spread over this long (open-loop load), so that each pod loss happens while sagas are in flight. */
const WINDOW_MS = 90_000;
/** When each pod goes, as a fraction of the window. */
const LOSSES = [
  { at: 0.15, component: 'nats' },
  { at: 0.45, component: 'inventory' },
  { at: 0.75, component: 'operator' },
] as const;

afterAll(async () => {
  await cluster.close();
});

/**
 * A request as a patient client makes it: a lost connection, a 502/503 (a pod behind the gateway is gone) or a 504 is
 * tried again until the deadline; any other answer is returned. A request may have taken effect even when its answer
 * was lost: callers only retry what is safe to repeat, and the accounting below reads back what really happened.
 */
async function patiently(method: string, path: string, body?: unknown, deadlineMs = 240_000): Promise<ApiResponse> {
  return waitFor(
    `${method} ${path}`,
    async () => {
      const response = await api.call(method, path, body);
      return response.status >= 500 ? undefined : response;
    },
    deadlineMs,
    250,
  );
}

type Saga = { customer: string; product: string; quantity: number; orderId: string };

async function saga(customer: string, product: string, quantity: number): Promise<Saga> {
  const cart = await patiently('POST', '/api/carts', { customerId: customer });
  expect(cart.status).toBe(201);
  const added = await patiently('POST', `/api/carts/${cart.body.id}/items`, { productId: product, quantity });
  expect(added.status).toBe(200);
  const checkout = await patiently('POST', `/api/carts/${cart.body.id}/checkout`);
  let orderId: string | undefined = checkout.body?.orderId;
  if (checkout.status === 409) {
    // An earlier attempt went through and only its answer was lost: the cart knows its order.
    orderId = (await patiently('GET', `/api/carts/${cart.body.id}`)).body.orderId;
  } else {
    expect(checkout.status).toBe(202);
  }
  if (!orderId) throw new Error(`cart ${cart.body.id}: no order after checkout (${checkout.status})`);
  return { customer, product, quantity, orderId };
}

/** Deletes a pod as `kubectl delete pod` does (graceful, its controller makes a new one) and returns its uid. */
async function deletePod(pod: Pod): Promise<string> {
  await cluster.kubectl(['-n', namespace, 'delete', 'pod', pod.metadata.name, '--wait=false']);
  return pod.metadata.uid;
}

async function victim(component: (typeof LOSSES)[number]['component']): Promise<Pod> {
  const candidates = (await podsOf(cluster, component)).filter(isReady);
  if (component === 'nats') {
    // The leader of EVENTS: the hardest NATS pod to lose (a new leader is elected while appends go on).
    const info = await (await jetstreamManager(await cluster.nats())).streams.info(EVENTS_STREAM);
    const leader = candidates.find((pod) => pod.metadata.name === info.cluster?.leader);
    if (leader) return leader;
  }
  if (component === 'operator') {
    const lease = await cluster.get(['-n', namespace, 'lease', 'jetsaga-operator']);
    const holder = candidates.find((pod) => pod.metadata.name === lease.spec.holderIdentity);
    if (holder) return holder;
  }
  const pod = candidates[0];
  if (!pod) throw new Error(`no Ready ${component} pod to delete`);
  return pod;
}

describe('pod loss during 240 sagas: a NATS server, a service and the operator', () => {
  it('ends every saga, conserves stock and money, keeps EVENTS at three replicas and loses no event', async () => {
    // An earlier suite may have replaced the pods the port-forwards stuck to.
    await forwardsReachable(cluster);
    const products = await Promise.all(Array.from({ length: 6 }, (_, i) => api.product(30, 500 + 250 * i)));
    const initialStock = new Map(products.map((product) => [product.id, 30]));
    // One customer in five cannot pay for much: those sagas end PAYMENT_REFUSED.
    const customers = await Promise.all(Array.from({ length: 60 }, (_, i) => api.customer(i % 5 === 0 ? 600 : 200_000)));
    const opening = new Map(customers.map((customer) => [customer.id, customer.balanceCents]));
    const salesBefore = (await patiently('GET', '/api/sales/summary')).body as { count: number; totalCents: number };

    const started = Date.now();
    const replaced: Array<{ component: string; uid: string }> = [];
    const losses = LOSSES.map(({ at, component }) =>
      new Promise<void>((resolve) => setTimeout(resolve, at * WINDOW_MS)).then(async () => {
        replaced.push({ component, uid: await deletePod(await victim(component)) });
      }),
    );
    const sagas = await Promise.all(
      Array.from({ length: SAGAS }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, (i * WINDOW_MS) / SAGAS));
        const product = products[i % products.length]?.id as string;
        return saga(customers[(i * 7) % customers.length]?.id as string, product, 1 + (i % 3 === 0 ? 1 : 0));
      }),
    );
    await Promise.all(losses);
    expect(replaced.map((loss) => loss.component)).toEqual(LOSSES.map((loss) => loss.component));
    expect(Date.now() - started).toBeGreaterThanOrEqual(WINDOW_MS * 0.9);

    // Every saga ends, whatever it went through (a deadline may have cancelled one that waited too long).
    const orders = await endedOrders(
      cluster,
      sagas.map((saga) => saga.orderId),
    );
    const outcomes = outcomesOf(orders);
    console.log(
      `[pod loss] ${SAGAS} sagas while deleting ${replaced.map((loss) => loss.component).join(', ')}: ${JSON.stringify(outcomes)}`,
    );
    const completed = [...orders.values()].filter((order) => order.status === 'COMPLETED');
    expect(completed.length).toBeGreaterThan(0);
    expect([...orders.values()].some((order) => order.reason === 'PAYMENT_REFUSED')).toBe(true);

    // The deleted pods were replaced, and the whole release is Ready again.
    await waitFor(
      'every deleted pod replaced and every pod Ready',
      async () => {
        for (const { component, uid } of replaced) {
          const now = await podsOf(cluster, component);
          if (now.some((pod) => pod.metadata.uid === uid) || !now.some(isReady)) return false;
        }
        const everything = (await cluster.get<{ items: Pod[] }>(['-n', namespace, 'pods'])).items;
        return everything.every(isReady);
      },
      300_000,
      1_000,
    );

    // Stock: what each product lost is exactly what completed orders took, and nothing stays reserved.
    const sold = new Map<string, number>();
    for (const order of completed)
      for (const line of order.lines) sold.set(line.productId, (sold.get(line.productId) ?? 0) + line.quantity);
    for (const [productId, stock] of initialStock) {
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

    // Money: each customer paid exactly the totals of its completed orders; refusals and compensations cost nothing.
    const paid = new Map<string, number>();
    for (const order of completed) paid.set(order.customerId, (paid.get(order.customerId) ?? 0) + order.totalCents);
    for (const [customerId, balance] of opening) {
      await waitFor(
        `customer ${customerId} settled`,
        async () => (await api.getCustomer(customerId)).balanceCents === balance - (paid.get(customerId) ?? 0),
        120_000,
        500,
      );
    }
    const revenue = completed.reduce((sum, order) => sum + order.totalCents, 0);
    await waitFor(
      'the sales summary to count the completed orders',
      async () => {
        const after = (await api.call('GET', '/api/sales/summary')).body;
        return after.count === salesBefore.count + completed.length && after.totalCents === salesBefore.totalCents + revenue;
      },
      120_000,
      500,
    );

    // EVENTS is back at three replicas, every one current; nothing was dead-lettered.
    const jsm = await jetstreamManager(await cluster.nats());
    await waitFor(
      'EVENTS with a leader and two current replicas',
      async () => {
        const info = await jsm.streams.info(EVENTS_STREAM);
        const replicas = info.cluster?.replicas ?? [];
        return Boolean(info.cluster?.leader) && replicas.length === 2 && replicas.every((replica) => replica.current && !replica.offline);
      },
      180_000,
      1_000,
    );
    // Nothing dead-lettered (named by consumer, reason and error when something was, to be read from the failure).
    const letters = ((await api.call('GET', '/api/dlq?limit=100')).body?.messages ?? []) as Array<Record<string, unknown>>;
    expect(letters.map((letter) => `${letter.consumer} ${letter.reason} ${letter.subject}: ${letter.error}`)).toEqual([]);
    expect((await jsm.streams.info('DLQ')).state.messages).toBe(0);

    // Nothing acknowledged by JetStream is missing from the Postgres mirror.
    const verification = await waitFor(
      'the mirror to catch up and verify',
      async () => {
        const response = await api.call('GET', '/api/event-store/verify');
        return response.status === 200 && response.body.ok ? response.body : undefined;
      },
      180_000,
      1_000,
    );
    expect(verification).toMatchObject({ ok: true, missing: [], extra: [] });

    // The new operator pod leads and keeps the topology in sync.
    const operator = (await podsOf(cluster, 'operator')).find(isReady) as Pod;
    await waitFor(
      'the new operator to hold the Lease and every topology resource to be Ready',
      async () => {
        const lease = await cluster.get(['-n', namespace, 'lease', 'jetsaga-operator']);
        if (lease.spec.holderIdentity !== operator.metadata.name) return false;
        for (const kind of ['eventstreams', 'eventconsumers']) {
          const items = (await cluster.get<{ items: any[] }>(['-n', namespace, kind])).items;
          const ready = (item: any) =>
            item.status?.conditions?.some(
              (c: any) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === item.metadata.generation,
            );
          if (!items.every(ready)) return false;
        }
        return true;
      },
      180_000,
      1_000,
    );
  });
});
