import { createServer, type Server, type Socket } from 'node:net';
import { freePort, REPO_ROOT, serviceEntry, waitFor } from '@jetsaga/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { changeCount, quietChangeCount, expectProblem, type ProblemFixture, problemFixture } from './support/problems.js';
import { adminToken, tokenFor } from './support/tokens.js';

/**
 * The gateway's limits and headers (README, Security) against the real system. The system's own gateway runs with the
 * generous defaults (the fixture goes through it); a second gateway, on the same services, runs with the limits
 * lowered and one upstream that never answers, so each limit is met for real: a quota spent by requests, a body too
 * large, a service too slow. It trusts one proxy, so each case is its own client address (X-Forwarded-For).
 */

const ALLOWED_ORIGIN = 'https://shop.example.org';
const LIMITS = {
  GATEWAY_RATE_WINDOW_S: '60',
  GATEWAY_RATE_ADDRESS_QUOTA: '5',
  GATEWAY_RATE_CUSTOMER_QUOTA: '3',
  GATEWAY_TRUSTED_PROXIES: '1',
  GATEWAY_MAX_BODY_BYTES: '2048',
  GATEWAY_UPSTREAM_TIMEOUT_MS: '500',
  GATEWAY_CORS_ORIGINS: `${ALLOWED_ORIGIN},https://admin.example.org`,
};

let t: TestSystem;
let fixture: ProblemFixture;
let strictUrl: string;
/** Accepts connections and never answers: the slow upstream. */
let silent: Server;
const held: Socket[] = [];
let addresses = 0;
/** A client address no other request of this file used (TEST-NET-2). */
const freshAddress = () => `198.51.100.${++addresses}`;

/** A request to the strict gateway from a fresh address, with the admin token unless `token` says otherwise. */
async function call(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string; token?: string | null } = {},
): Promise<ApiResponse> {
  const token = init.token === undefined ? await adminToken() : init.token;
  const response = await fetch(`${strictUrl}${path}`, {
    method,
    headers: {
      'x-forwarded-for': freshAddress(),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (an empty preflight answer): kept as text.
  }
  return { status: response.status, body, headers: response.headers };
}

beforeAll(async () => {
  t = await startTestSystem();
  fixture = await problemFixture(t.api);
  silent = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  if (!address || typeof address === 'string') throw new Error('the silent server has no port');
  const port = await freePort();
  strictUrl = `http://127.0.0.1:${port}`;
  t.system.supervisor.add({
    name: 'gateway-strict',
    command: process.execPath,
    args: [serviceEntry('gateway')],
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      ...t.authEnv,
      // Every service the system runs (ORDER_URL, EVENT_STORE_URL...), but sales: the server that never answers.
      ...Object.fromEntries(
        Object.entries(t.system.urls)
          .filter(([name]) => name !== 'gateway')
          .map(([name, url]) => [`${name.toUpperCase().replace(/-/g, '_')}_URL`, url]),
      ),
      SALES_URL: `http://127.0.0.1:${address.port}`,
      ...LIMITS,
    },
  });
  await waitFor('the strict gateway to listen', async () => (await fetch(`${strictUrl}/healthz`).catch(() => undefined))?.ok === true);
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  silent?.close();
  await t?.stop();
});

describe('rate limits', () => {
  it('per client address: 429 problem+json with Retry-After and the RateLimit fields past the quota, and nothing changed', async () => {
    const address = freshAddress();
    const path = `/api/products/${fixture.productId}`;
    const answers: ApiResponse[] = [];
    for (let i = 0; i < 5; i++) answers.push(await call('GET', path, { headers: { 'x-forwarded-for': address } }));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    // The admin's own quota (the default one) first, then the address's.
    expect(answers[0]?.headers.get('ratelimit-policy')).toBe('"admin";q=1200000;w=60, "address";q=5;w=60');
    expect(answers.map((answer) => answer.headers.get('ratelimit'))).toEqual(
      [4, 3, 2, 1, 0].map((left) => expect.stringMatching(new RegExp(`, "address";r=${left};t=\\d+$`))),
    );

    const before = await quietChangeCount(t);
    const refused = await call('POST', '/api/products', {
      headers: { 'x-forwarded-for': address },
      body: JSON.stringify({ sku: 'SKU-LIMITED', name: 'Lamp', priceCents: 100, stock: 1 }),
    });
    expectProblem(refused, 429, 'address');
    const retryAfter = Number(refused.headers.get('retry-after'));
    // Five a minute: one request's worth comes back within twelve seconds.
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(12);
    // Refused before authentication: only the address's fields.
    expect(refused.headers.get('ratelimit')).toMatch(/^"address";r=0;t=\d+$/);
    expect(refused.headers.get('ratelimit-policy')).toBe('"address";q=5;w=60');
    expect(await changeCount(t.sql)).toBe(before);
    // The product was not created, by this gateway or any other path.
    expect((await t.sql.query(`SELECT count(*) AS n FROM inventory.products WHERE sku = 'SKU-LIMITED'`)).rows[0].n).toBe('0');

    // Another client address is not held back by this one.
    expect((await call('GET', path)).status).toBe(200);
  });

  it('per principal: a customer has a quota of their own whatever the address, refused past it with 429 and nothing changed', async () => {
    const customer = await tokenFor('customer', fixture.customerId);
    const path = `/api/customers/${fixture.customerId}`;
    const answers: ApiResponse[] = [];
    // Each from another address: the address buckets have room, the principal's does not.
    for (let i = 0; i < 3; i++) answers.push(await call('GET', path, { token: customer }));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(answers[0]?.headers.get('ratelimit-policy')).toBe('"customer";q=3;w=60, "address";q=5;w=60');
    expect(answers[2]?.headers.get('ratelimit')).toMatch(/^"customer";r=0;t=\d+, "address";r=4;t=\d+$/);

    const before = await quietChangeCount(t);
    const refused = await call('POST', '/api/carts', { token: customer, body: JSON.stringify({ customerId: fixture.customerId }) });
    expectProblem(refused, 429, 'customer');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit')).toMatch(/^"customer";r=0;t=\d+, "address";r=4;t=\d+$/);
    expect(await changeCount(t.sql)).toBe(before);

    // Another customer, and the admin, are not held back by this one.
    const other = (await t.api.customer(100)).id;
    expect((await call('GET', `/api/customers/${other}`, { token: await tokenFor('customer', other) })).status).toBe(200);
    expect((await call('GET', path)).status).toBe(200);
  });

  it('counts a request without a valid token against its address, before authentication', async () => {
    const address = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await call('GET', '/api/sales/summary', { token: null, headers: { 'x-forwarded-for': address } })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('does not limit the probes', async () => {
    const address = freshAddress();
    for (let i = 0; i < 8; i++) {
      const response = await fetch(`${strictUrl}/healthz`, { headers: { 'x-forwarded-for': address } });
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit')).toBeNull();
    }
  });
});

describe('body size', () => {
  it('413 problem+json for a body over GATEWAY_MAX_BODY_BYTES, and nothing changed', async () => {
    const before = await quietChangeCount(t);
    const body = JSON.stringify({ name: 'Ada', email: 'ada@example.org', balanceCents: 100, note: 'x'.repeat(4096) });
    const refused = await call('POST', '/api/customers', { body });
    expectProblem(refused, 413, '');
    expect(refused.body.detail).toMatch(/2048 bytes/);
    expect(await changeCount(t.sql)).toBe(before);
  });

  it('every service refuses a body over its own bound when reached directly (1 MiB)', async () => {
    const before = await quietChangeCount(t);
    const body = JSON.stringify({ name: 'Ada', email: 'ada@example.org', balanceCents: 100, note: 'x'.repeat(1024 * 1024) });
    for (const service of ['payment', 'inventory', 'order', 'sales', 'event-store'] as const) {
      const response = await fetch(`${t.system.urls[service]}/api/anything`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status, service).toBe(413);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    }
    expect(await changeCount(t.sql)).toBe(before);
  });
});

describe('upstream timeout', () => {
  it('504 problem+json once a service has not answered within GATEWAY_UPSTREAM_TIMEOUT_MS', async () => {
    const started = performance.now();
    const late = await call('GET', '/api/sales/summary');
    const waited = performance.now() - started;
    expectProblem(late, 504);
    expect(late.body.detail).toMatch(/within 500 ms/);
    expect(waited).toBeGreaterThanOrEqual(450);
    expect(waited).toBeLessThan(5000);
    // The slow service did receive the request: the gateway gave up on it, it did not refuse to send it.
    expect(held.length).toBeGreaterThanOrEqual(1);
  });
});

describe('CORS', () => {
  it("answers an allowed origin's preflight and lets it read the answer", async () => {
    const preflight = await call('OPTIONS', '/api/customers', {
      headers: {
        origin: ALLOWED_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const read = await call('GET', `/api/products/${fixture.productId}`, { headers: { origin: ALLOWED_ORIGIN } });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(read.headers.get('access-control-expose-headers')).toContain('ratelimit');
  });

  it('gives a foreign origin no allow header, and refuses its writes with 403 changing nothing', async () => {
    const foreign = 'https://evil.example';
    const allowHeaders = (response: ApiResponse) => [...response.headers.keys()].filter((key) => key.startsWith('access-control-allow'));
    const preflight = await call('OPTIONS', '/api/customers', { headers: { origin: foreign, 'access-control-request-method': 'POST' } });
    expect(allowHeaders(preflight)).toEqual([]);
    const read = await call('GET', `/api/products/${fixture.productId}`, { headers: { origin: foreign } });
    expect(allowHeaders(read)).toEqual([]);

    const before = await quietChangeCount(t);
    const write = await call('POST', '/api/customers', {
      headers: { origin: foreign, 'content-type': 'text/plain' },
      body: JSON.stringify({ name: 'Mallory', email: 'm@example.org', balanceCents: 100 }),
    });
    expectProblem(write, 403);
    expect(allowHeaders(write)).toEqual([]);
    expect(await changeCount(t.sql)).toBe(before);
  });

  it('the default gateway allows no origin', async () => {
    const read = await fetch(`${t.system.gatewayUrl}/api/products/${fixture.productId}`, {
      headers: { origin: ALLOWED_ORIGIN, ...(await t.api.authHeaders()) },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('security headers', () => {
  it('on API answers, errors and probes: nosniff, no framing, no referrer, a CSP that allows nothing', async () => {
    const headers = await t.api.authHeaders();
    const answers = [
      await fetch(`${t.system.gatewayUrl}/api/products/${fixture.productId}`, { headers }),
      await fetch(`${t.system.gatewayUrl}/api/orders/not-a-uuid`, { headers }),
      await fetch(`${t.system.gatewayUrl}/api/warehouses`, { headers }),
      await fetch(`${t.system.gatewayUrl}/healthz`),
      // Refused by authentication: the headers are set outside it.
      await fetch(`${t.system.gatewayUrl}/api/products/${fixture.productId}`, { headers: {} }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 404, 404, 200, 401]);
    for (const answer of answers) {
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
      expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
      expect(answer.headers.get('content-security-policy')).toMatch(/^default-src 'none';.*frame-ancestors 'none'/);
    }
  });

  it("RateLimit fields on every API answer of the default gateway too, the principal's with the address's", async () => {
    const answer = await fetch(`${t.system.gatewayUrl}/api/products/${fixture.productId}`, { headers: await t.api.authHeaders() });
    expect(answer.headers.get('ratelimit-policy')).toMatch(/^"admin";q=\d+;w=60, "address";q=\d+;w=60$/);
    expect(answer.headers.get('ratelimit')).toMatch(/"address";r=\d+;t=\d+/);
  });
});
