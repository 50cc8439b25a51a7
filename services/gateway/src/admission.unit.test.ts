import { PROBLEM_CONTENT_TYPE, requestId } from '@jetsaga/platform';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { type AdmissionOptions, admission, kindOf } from './admission.js';

/** An app behind the admission middleware whose handlers answer only when the test lets them: requests stay in flight. */
function held(options: AdmissionOptions) {
  const app = new Hono();
  app.use(requestId());
  app.use('/api/*', admission(options));
  const pending: Array<() => void> = [];
  const reached: string[] = [];
  app.all('/api/*', async (c) => {
    reached.push(`${c.req.method} ${c.req.path}`);
    await new Promise<void>((resolve) => pending.push(resolve));
    return c.json({ ok: true }, c.req.path.endsWith('/checkout') ? 202 : 200);
  });
  /** Lets the oldest held request answer. */
  const releaseOne = () => pending.shift()?.();
  const send = (method: string, path: string) => app.request(path, { method });
  /** Waits (by turns of the event loop, no clock) until `count` requests reached the handlers. */
  const reachedCount = async (count: number) => {
    for (let turn = 0; turn < 1000 && reached.length < count; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(reached).toHaveLength(count);
  };
  return { send, releaseOne, reached, reachedCount };
}

async function expectTooMany(response: Response, bound: string) {
  expect(response.status).toBe(429);
  expect(response.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  const body = (await response.json()) as { errors: unknown };
  expect(body).toMatchObject({ status: 429, title: 'Too many requests', bound, requestId: expect.any(String) });
  expect(body.errors).toEqual([{ field: bound, reason: expect.any(String) }]);
}

describe('admission control', () => {
  it('knows checkouts and new carts from other requests', () => {
    expect(kindOf('POST', '/api/carts/0190-abc/checkout')).toBe('checkout');
    expect(kindOf('POST', '/api/carts')).toBe('new-cart');
    expect(kindOf('POST', '/api/carts/0190-abc/items')).toBe('other');
    expect(kindOf('GET', '/api/carts/0190-abc/checkout')).toBe('other');
  });

  it('answers 429 with Retry-After past the checkout bound and its queue, without forwarding', async () => {
    const gate = held({ checkouts: 2, checkoutQueue: 0, checkoutQueueMs: 0, shopping: 100, newCartQueue: 0, requests: 100 });
    const first = [gate.send('POST', '/api/carts/a/checkout'), gate.send('POST', '/api/carts/b/checkout')];
    await gate.reachedCount(2);
    await expectTooMany(await gate.send('POST', '/api/carts/c/checkout'), 'checkouts');
    expect(gate.reached).not.toContain('POST /api/carts/c/checkout');
    // Other requests are not checkouts: they pass.
    const item = gate.send('POST', '/api/carts/a/items');
    await gate.reachedCount(3);
    gate.releaseOne();
    expect((await first[0])?.status).toBe(202);
    // A slot is free again: the next checkout goes through.
    const next = gate.send('POST', '/api/carts/d/checkout');
    await gate.reachedCount(4);
    for (let i = 0; i < 3; i++) gate.releaseOne();
    expect((await first[1])?.status).toBe(202);
    expect((await item).status).toBe(200);
    expect((await next).status).toBe(202);
  });

  it('queues a checkout briefly: it goes through when a slot frees in time, and is refused when none does', async () => {
    const gate = held({ checkouts: 1, checkoutQueue: 1, checkoutQueueMs: 60_000, shopping: 100, newCartQueue: 0, requests: 100 });
    const first = gate.send('POST', '/api/carts/a/checkout');
    await gate.reachedCount(1);
    const queued = gate.send('POST', '/api/carts/b/checkout');
    // The queue holds one: a third checkout is refused at once.
    await expectTooMany(await gate.send('POST', '/api/carts/c/checkout'), 'checkouts');
    expect(gate.reached).toEqual(['POST /api/carts/a/checkout']);
    gate.releaseOne();
    await gate.reachedCount(2);
    gate.releaseOne();
    expect([(await first).status, (await queued).status]).toEqual([202, 202]);

    const short = held({ checkouts: 1, checkoutQueue: 4, checkoutQueueMs: 1, shopping: 100, newCartQueue: 0, requests: 100 });
    const holding = short.send('POST', '/api/carts/a/checkout');
    await short.reachedCount(1);
    await expectTooMany(await short.send('POST', '/api/carts/b/checkout'), 'checkouts');
    short.releaseOne();
    expect((await holding).status).toBe(202);
    expect(short.reached).toEqual(['POST /api/carts/a/checkout']);
  });

  it('lets no new shopper in while checkouts wait, and lets those already shopping go on', async () => {
    const gate = held({ checkouts: 1, checkoutQueue: 2, checkoutQueueMs: 60_000, shopping: 100, newCartQueue: 0, requests: 100 });
    const first = gate.send('POST', '/api/carts/a/checkout');
    await gate.reachedCount(1);
    // A slot is free for no one, but nobody waits: new carts still come in.
    const cart = gate.send('POST', '/api/carts');
    await gate.reachedCount(2);
    const queued = gate.send('POST', '/api/carts/b/checkout');
    await expectTooMany(await gate.send('POST', '/api/carts'), 'checkouts');
    const item = gate.send('POST', '/api/carts/b/items');
    await gate.reachedCount(3);
    expect(gate.reached).toEqual(['POST /api/carts/a/checkout', 'POST /api/carts', 'POST /api/carts/b/items']);
    gate.releaseOne();
    await gate.reachedCount(4);
    for (let i = 0; i < 3; i++) gate.releaseOne();
    expect([(await first).status, (await cart).status, (await item).status, (await queued).status]).toEqual([202, 200, 200, 202]);
    // Nobody waits any more: the door is open again.
    const again = gate.send('POST', '/api/carts');
    await gate.reachedCount(5);
    gate.releaseOne();
    expect((await again).status).toBe(200);
  });

  it('refuses new carts first once enough requests are in flight, and lets the others through', async () => {
    const gate = held({ checkouts: 10, checkoutQueue: 0, checkoutQueueMs: 0, shopping: 2, newCartQueue: 0, requests: 100 });
    const two = [gate.send('POST', '/api/carts'), gate.send('POST', '/api/carts/a/items')];
    await gate.reachedCount(2);
    await expectTooMany(await gate.send('POST', '/api/carts'), 'shopping');
    const more = [gate.send('POST', '/api/carts/a/items'), gate.send('POST', '/api/carts/a/checkout')];
    await gate.reachedCount(4);
    for (let i = 0; i < 4; i++) gate.releaseOne();
    expect((await Promise.all([...two, ...more])).map((response) => response.status)).toEqual([200, 200, 200, 202]);
    const again = gate.send('POST', '/api/carts');
    await gate.reachedCount(5);
    gate.releaseOne();
    expect((await again).status).toBe(200);
  });

  it('lets a burst of new carts wait at the door and go in as room frees', async () => {
    const gate = held({ checkouts: 10, checkoutQueue: 2, checkoutQueueMs: 60_000, shopping: 2, requests: 100 });
    const carts = [1, 2, 3, 4].map(() => gate.send('POST', '/api/carts'));
    await gate.reachedCount(2);
    // Two wait at the door (its queue holds two): a fifth is refused at once.
    await expectTooMany(await gate.send('POST', '/api/carts'), 'shopping');
    gate.releaseOne();
    await gate.reachedCount(3);
    gate.releaseOne();
    await gate.reachedCount(4);
    for (let i = 0; i < 2; i++) gate.releaseOne();
    expect((await Promise.all(carts)).map((response) => response.status)).toEqual([200, 200, 200, 200]);
  });

  it('bounds every forwarded request with its own bound', async () => {
    const gate = held({ checkouts: 10, checkoutQueue: 0, checkoutQueueMs: 0, shopping: 100, newCartQueue: 0, requests: 2 });
    const two = [gate.send('GET', '/api/products/x'), gate.send('POST', '/api/carts/a/items')];
    await gate.reachedCount(2);
    await expectTooMany(await gate.send('GET', '/api/orders/y'), 'requests');
    await expectTooMany(await gate.send('POST', '/api/carts/a/checkout'), 'requests');
    gate.releaseOne();
    gate.releaseOne();
    expect((await Promise.all(two)).map((response) => response.status)).toEqual([200, 200]);
    const after = gate.send('GET', '/api/orders/y');
    await gate.reachedCount(3);
    gate.releaseOne();
    expect((await after).status).toBe(200);
  });
});
