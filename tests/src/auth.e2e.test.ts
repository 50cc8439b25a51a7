import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevIssuer, freePort, SERVICES, startDevIssuer, waitFor } from '@jetsaga/devstack';
import { uuidv7 } from '@jetsaga/events';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, apiClient } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { changeCount, quietChangeCount, expectProblem } from './support/problems.js';

/**
 * Every /api route needs a valid bearer token, at the gateway and at each service's own port (no trust in the network
 * alone): a request without one, or with one that is expired, for another audience, from another issuer or forged, is a
 * 401 problem and changes nothing. The system runs against an issuer of its own here, so that this file can rotate
 * its keys; the services refetch the JWKS without a cooldown and keep it 1 s, so a rotation shows at once.
 */

let dir: string;
let issuer: DevIssuer;
let t: TestSystem;
let customerId = '';
const tokensSeen: string[] = [];

const sign = async (...args: Parameters<DevIssuer['sign']>) => {
  const token = await issuer.sign(...args);
  tokensSeen.push(token);
  return token;
};
const as = (token: string | null, url = t.system.gatewayUrl): Api => apiClient(url, { token });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jetsaga-auth-e2e-'));
  issuer = await startDevIssuer({ dir });
  t = await startTestSystem({ ...issuer.env, AUTH_JWKS_COOLDOWN_MS: '0', AUTH_JWKS_MAX_AGE_MS: '1000' });
  customerId = (await as(await sign({ role: 'admin' })).customer(10_000)).id;
});

afterAll(async () => {
  await t?.stop();
  await issuer?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Writes and admin operations an anonymous caller must never reach. */
const PROTECTED: Array<[method: string, path: () => string, body?: unknown]> = [
  ['POST', () => '/api/customers', { name: 'Mallory', email: 'm@example.org', balanceCents: 1_000_000 }],
  ['GET', () => `/api/customers/${customerId}`],
  ['POST', () => '/api/products', { sku: 'SKU-EVIL', name: 'Evil', priceCents: 1, stock: 1 }],
  ['POST', () => '/api/carts', { customerId }],
  ['GET', () => '/api/orders'],
  ['GET', () => '/api/sales/summary'],
  ['GET', () => '/api/dlq'],
  ['DELETE', () => `/api/dlq/${uuidv7()}`],
  ['POST', () => '/api/projections/order-summaries/rebuild'],
  ['POST', () => '/api/event-store/mirror/reset'],
  ['POST', () => `/api/streams/customer/${customerId}/events`, { type: 'CustomerRegistered', data: {} }],
];

async function expectRefusedEverywhere(api: Api, detail: RegExp): Promise<void> {
  const before = await quietChangeCount(t);
  for (const [method, path, body] of PROTECTED) {
    const response = await api.call(method, path(), body);
    expectProblem(response, 401);
    expect(response.body.detail, `${method} ${path()}`).toMatch(detail);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  }
  expect(await changeCount(t.sql)).toBe(before);
}

describe('a request without a valid token', () => {
  it('is refused on every route with 401, changing nothing', async () => {
    await expectRefusedEverywhere(as(null), /needs a bearer token/);
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ['expired', () => sign({ role: 'admin', ttl: -120 }), /expired/],
    ['for another audience', () => sign({ role: 'admin', audience: 'billing' }), /audience jetsaga/],
    ['from another issuer', async () => sign({ role: 'admin', issuer: `http://127.0.0.1:${await freePort()}` }), /not issued by/],
    [
      'forged: the issuer\u2019s kid, another key',
      async () => {
        const [kid] = await issuer.kids();
        const { privateKey } = await generateKeyPair('ES256');
        const forged = await new SignJWT({ roles: ['admin'] })
          .setProtectedHeader({ alg: 'ES256', kid: kid! })
          .setIssuer(issuer.issuer)
          .setAudience('jetsaga')
          .setSubject('mallory')
          .setExpirationTime('5m')
          .sign(privateKey);
        tokensSeen.push(forged);
        return forged;
      },
      /signature does not verify/,
    ],
  ])('is refused when %s, changing nothing', async (_name, token, detail) => {
    await expectRefusedEverywhere(as(await token()), detail);
  });

  it('is refused by each service at its own port, which a valid token passes', async () => {
    const admin = await sign({ role: 'admin' });
    for (const name of SERVICES.filter((service) => service !== 'gateway')) {
      const direct = await as(null, t.system.urls[name]).call('GET', '/api/anything');
      expectProblem(direct, 401);
    }
    const before = await quietChangeCount(t);
    const refused = await as(null, t.system.urls.payment).call('POST', '/api/customers', {
      name: 'Eve',
      email: 'eve@example.org',
      balanceCents: 5,
    });
    expectProblem(refused, 401);
    expect(await changeCount(t.sql)).toBe(before);
    const accepted = await as(admin, t.system.urls.payment).call('GET', `/api/customers/${customerId}`);
    expect(accepted.status).toBe(200);
  });

  it('with no jetsaga role is 403', async () => {
    const response = await as(await sign({ claims: { scope: 'openid profile' } })).call('GET', '/api/orders');
    expectProblem(response, 403);
  });

  it('still reaches the probes and the index, which are public', async () => {
    const anonymous = as(null);
    for (const path of ['/healthz', '/readyz', '/']) expect((await anonymous.call('GET', path)).status, path).toBe(200);
  });
});

describe('key rotation', () => {
  it('accepts the new key at once, the old one until it is retired', async () => {
    const [oldKid] = await issuer.kids();
    const oldToken = await sign({ role: 'admin' });
    expect((await as(oldToken).call('GET', `/api/customers/${customerId}`)).status).toBe(200);

    await issuer.rotate();
    const newToken = await sign({ role: 'admin' });
    // The gateway and payment have never seen the new kid: each fetches the JWKS again on it.
    expect((await as(newToken).call('GET', `/api/customers/${customerId}`)).status).toBe(200);
    expect((await as(newToken, t.system.urls.payment).call('GET', `/api/customers/${customerId}`)).status).toBe(200);
    expect((await as(oldToken).call('GET', `/api/customers/${customerId}`)).status).toBe(200);

    await issuer.retire(oldKid!);
    // Once the services' copy of the JWKS is older than AUTH_JWKS_MAX_AGE_MS they fetch it again, without the old key.
    await waitFor('the retired key to be refused', async () => (await as(oldToken).call('GET', '/api/orders')).status === 401, 10_000);
    expectProblem(await as(oldToken).call('GET', '/api/orders'), 401);
    expect((await as(newToken).call('GET', `/api/customers/${customerId}`)).status).toBe(200);
  });
});

describe('the logs', () => {
  it('name refused requests and never carry a token', async () => {
    const logs = (await Promise.all((await readdir(t.logDir)).map((file) => readFile(join(t.logDir, file), 'utf8')))).join('\n');
    expect(logs).toMatch(/"msg":"request refused"/);
    expect(tokensSeen.length).toBeGreaterThan(5);
    for (const token of tokensSeen) {
      expect(logs).not.toContain(token);
      // Nor its signature alone (a token split across fields).
      expect(logs).not.toContain(token.split('.')[2]);
    }
  });
});
