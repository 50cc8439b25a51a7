import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { freePort, type RunningSystem, type ServiceName, serviceEntry, waitFor } from '@jetsaga/devstack';
import { uuidv7 } from '@jetsaga/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, apiClient } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import {
  changeCount,
  quietChangeCount,
  DOWN_UPSTREAMS,
  expectProblem,
  PROBLEM_CASES,
  type ProblemFixture,
  problemFixture,
  UPSTREAM_PROBLEM_CASES,
} from './support/problems.js';

let t: TestSystem;
let api: Api;
let fixture: ProblemFixture;
let customerId: string;
/** A second gateway, beside the system's, whose upstreams in DOWN_UPSTREAMS are down. */
let degraded: { api: Api; child: ChildProcess; hangUp: Server };

const UPSTREAM_URL_VARIABLES: Record<Exclude<ServiceName, 'gateway'>, string> = {
  order: 'ORDER_URL',
  inventory: 'INVENTORY_URL',
  payment: 'PAYMENT_URL',
  sales: 'SALES_URL',
  support: 'SUPPORT_URL',
  'event-store': 'EVENT_STORE_URL',
  shipping: 'SHIPPING_URL',
  notification: 'NOTIFICATION_URL',
  audit: 'AUDIT_URL',
};

/** The real gateway, started with some upstreams on a port nobody listens on or on a server that hangs up at once. */
async function gatewayWithUpstreamsDown(system: RunningSystem, authEnv: Record<string, string>): Promise<typeof degraded> {
  const hangUp = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
  const address = hangUp.address();
  if (!address || typeof address === 'string') throw new Error('the hang-up server has no port');
  const down = { refused: `http://127.0.0.1:${await freePort()}`, 'hang-up': `http://127.0.0.1:${address.port}` };
  const upstreams = Object.fromEntries(
    Object.entries(UPSTREAM_URL_VARIABLES).map(([name, variable]) => {
      const how = DOWN_UPSTREAMS[name as keyof typeof DOWN_UPSTREAMS];
      return [variable, how ? down[how] : system.urls[name as ServiceName]];
    }),
  );
  const port = await freePort();
  const child = spawn(process.execPath, [serviceEntry('gateway')], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      JETSAGA_PARENT_PID: String(process.pid),
      ...authEnv,
      ...upstreams,
    },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the degraded gateway to listen', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true);
  return { api: apiClient(url), child, hangUp };
}

beforeAll(async () => {
  t = await startTestSystem();
  api = t.api;
  fixture = await problemFixture(api);
  customerId = fixture.customerId;
  degraded = await gatewayWithUpstreamsDown(t.system, t.authEnv);
});

afterAll(async () => {
  if (degraded) {
    if (degraded.child.exitCode === null) {
      const exited = new Promise((resolve) => degraded.child.once('exit', resolve));
      degraded.child.kill('SIGTERM');
      await exited;
    }
    degraded.hangUp.close();
  }
  await t?.stop();
});

const customer = { name: 'Ada', email: 'ada@example.org', balanceCents: 100 };
const product = { sku: 'SKU-ERR', name: 'Lamp', priceCents: 100, stock: 1 };

describe('bad input gets a clear error and changes nothing', () => {
  it.each(PROBLEM_CASES)('%s', async (_name, request, status, field) => {
    const before = await quietChangeCount(t);
    expectProblem(await request(api, fixture), status, field);
    expect(await changeCount(t.sql)).toBe(before);
  });

  it.each(UPSTREAM_PROBLEM_CASES)('%s', async (_name, request, status) => {
    const before = await quietChangeCount(t);
    const response = await request(degraded.api);
    expectProblem(response, status);
    expect(response.headers.get('x-request-id')).toMatch(/.+/);
    expect(await changeCount(t.sql)).toBe(before);
  });

  it('refuses to check out an empty cart (409) and leaves it open', async () => {
    const empty = await api.cart(customerId);
    const before = await quietChangeCount(t);
    expectProblem(await api.call('POST', `/api/carts/${empty.id}/checkout`), 409);
    expect(await changeCount(t.sql)).toBe(before);
    expect((await api.call('GET', `/api/carts/${empty.id}`)).body).toMatchObject({ status: 'OPEN', items: [], totalCents: 0 });
  });

  it('refuses a second product with the same sku (409)', async () => {
    const sku = `SKU-${uuidv7()}`;
    expect((await api.call('POST', '/api/products', { ...product, sku })).status).toBe(201);
    const before = await quietChangeCount(t);
    expectProblem(await api.call('POST', '/api/products', { ...product, sku }), 409);
    expect(await changeCount(t.sql)).toBe(before);
  });

  it('answers the documented shapes on success', async () => {
    const created = await api.call('POST', '/api/customers', customer);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), ...customer });
    const madeProduct = await api.call('POST', '/api/products', { ...product, sku: `SKU-${uuidv7()}`, stock: 7 });
    expect(madeProduct.body).toEqual({
      id: expect.any(String),
      sku: expect.any(String),
      name: 'Lamp',
      priceCents: 100,
      available: 7,
      reserved: 0,
    });
    const cart = await api.call('POST', '/api/carts', { customerId: created.body.id });
    expect(cart.status).toBe(201);
    expect(cart.body).toMatchObject({ id: expect.any(String), customerId: created.body.id, items: [], totalCents: 0 });
    const withItem = await api.call('POST', `/api/carts/${cart.body.id}/items`, { productId: madeProduct.body.id, quantity: 3 });
    expect(withItem.status).toBe(200);
    expect(withItem.body).toMatchObject({ items: [{ productId: madeProduct.body.id, quantity: 3, priceCents: 100 }], totalCents: 300 });
  });
});
