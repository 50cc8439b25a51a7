import { waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api, ApiResponse } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { expectProblem } from './support/problems.js';
import { eventsOf } from './support/stream.js';

/**
 * The gateway's admission control against the real system (docs/adr/0038-admission-control.md), with a bound of two
 * checkouts in flight and a queue of one. The order service is paused (SIGSTOP), so the checkouts the gateway lets
 * through stay in flight until it resumes: the bound is met for real, never simulated.
 */

const BOUND = 2;
let t: TestSystem;
let api: Api;

/** The sum of a Prometheus metric's series whose labels include `labels`, from a service's /metrics. */
async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? ([^ ]+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
    if (Object.entries(labels).every(([key, value]) => series[key] === value)) sum += Number(match[3]);
  }
  return sum;
}

const gatewayMetric = (name: string, labels?: Record<string, string>) => metric(t.system.metricsUrls.gateway, name, labels);

/** How many events of one type the stream holds, over every aggregate of `aggregateType`. */
async function storedCount(aggregateType: string, eventType: string): Promise<number> {
  const info = await (
    await jetstreamManager(t.nc)
  ).streams.info(EVENTS_STREAM, { subjects_filter: `events.${aggregateType}.*.${eventType}` });
  return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
}

beforeAll(async () => {
  t = await startTestSystem({
    GATEWAY_MAX_INFLIGHT_CHECKOUTS: String(BOUND),
    GATEWAY_CHECKOUT_QUEUE: '1',
    // New carts are refused at once while checkouts wait, rather than waiting at the door with them.
    GATEWAY_NEW_CART_QUEUE: '0',
    // Long enough that the queued checkout waits for the order service to resume rather than for a clock.
    GATEWAY_CHECKOUT_QUEUE_MS: '60000',
  });
  api = t.api;
});

afterAll(async () => {
  t?.system.supervisor.signal('order', 'SIGCONT');
  await t?.stop();
});

describe('admission control at the gateway', () => {
  it('answers 429 problem+json with Retry-After past the checkout bound, changes nothing, and admits again once there is room', async () => {
    const customer = await api.customer(1_000_000);
    const product = await api.product(100, 250);
    const carts: string[] = [];
    for (let i = 0; i < BOUND + 2; i++) {
      const cart = await api.cart(customer.id);
      await api.addItem(cart.id, product.id, 1);
      carts.push(cart.id);
    }
    const [first, second, queued, refused] = carts as [string, string, string, string];
    const checkoutsSeenByOrder = () =>
      metric(t.system.metricsUrls.order, 'http_server_requests_total', { method: 'POST', route: '/api/carts/:id/checkout' });
    const cartsSeenByOrder = () =>
      metric(t.system.metricsUrls.order, 'http_server_requests_total', { method: 'POST', route: '/api/carts' });
    const cartsBefore = await cartsSeenByOrder();
    expect(cartsBefore).toBe(carts.length);
    expect(await checkoutsSeenByOrder()).toBe(0);
    // What was committed before the pause has reached the stream, so a later count shows what the rejections did not do.
    await waitFor('the carts to be in the stream', async () => (await storedCount('cart', 'CartItemAdded')) === carts.length, 10_000);

    t.system.supervisor.signal('order', 'SIGSTOP');
    let held: Array<Promise<ApiResponse>>;
    try {
      held = [first, second].map((id) => api.call('POST', `/api/carts/${id}/checkout`));
      await waitFor(
        'two checkouts in flight at the gateway',
        async () => (await gatewayMetric('gateway_inflight_requests', { bound: 'checkouts' })) === BOUND,
        10_000,
      );
      held.push(api.call('POST', `/api/carts/${queued}/checkout`));
      await waitFor(
        'one checkout queued',
        async () => (await gatewayMetric('gateway_inflight_requests', { bound: 'checkouts-queued' })) === 1,
        10_000,
      );

      const tooMany = await api.call('POST', `/api/carts/${refused}/checkout`);
      expectProblem(tooMany, 429, 'checkouts');
      expect(Number(tooMany.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(tooMany.body).toMatchObject({ bound: 'checkouts', limit: BOUND, instance: `/api/carts/${refused}/checkout` });
      expect(tooMany.body.errors[0].reason).toMatch(/in flight/);

      // While checkouts wait, no new shopper is let in: a new cart would only be refused later, at its checkout.
      const door = await api.call('POST', '/api/carts', { customerId: customer.id });
      expectProblem(door, 429, 'checkouts');
      expect(door.headers.get('retry-after')).not.toBeNull();

      expect(await gatewayMetric('gateway_admission_rejected_total', { kind: 'checkout', bound: 'checkouts' })).toBe(1);
      expect(await gatewayMetric('gateway_admission_rejected_total', { kind: 'new-cart', bound: 'checkouts' })).toBe(1);
    } finally {
      t.system.supervisor.signal('order', 'SIGCONT');
    }

    // Resumed: the two held checkouts and the queued one go through and their sagas end.
    const answers = await Promise.all(held);
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
    for (const answer of answers) expect((await api.terminal(answer.body.orderId)).status).toBe('COMPLETED');
    expect(await gatewayMetric('gateway_inflight_requests', { bound: 'checkouts' })).toBe(0);

    // The refused requests never reached the order service and changed nothing.
    expect(await checkoutsSeenByOrder()).toBe(3);
    expect(await cartsSeenByOrder()).toBe(cartsBefore);
    const cart = await api.call('GET', `/api/carts/${refused}`);
    expect(cart.status).toBe(200);
    expect(cart.body.status).toBe('OPEN');
    expect((await eventsOf(t.nc, 'cart', refused)).map((event) => event.type)).toEqual(['CartCreated', 'CartItemAdded']);
    expect(await storedCount('order', 'OrderPlaced')).toBe(3);
    expect(await storedCount('cart', 'CartCreated')).toBe(carts.length);

    // There is room again: the refused checkout, sent again as Retry-After says, is accepted and its saga completes.
    const retried = await api.call('POST', `/api/carts/${refused}/checkout`);
    expect(retried.status).toBe(202);
    expect((await api.terminal(retried.body.orderId)).status).toBe('COMPLETED');
    expect((await api.cart(customer.id)).id).toEqual(expect.any(String));
  });
});
