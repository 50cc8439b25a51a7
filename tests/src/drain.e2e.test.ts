import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { connect } from 'node:net';
import {
  createTestDatabase,
  credentialsOf,
  freePort,
  type NatsServer,
  newKeyEncryptionKey,
  SERVICES,
  serviceEntry,
  serviceEnvironment,
  startTestNats,
  waitFor,
} from '@jetsaga/devstack';
import type { NatsConnection } from '@jetsaga/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { applyTestTopology } from './support/harness.js';
import { adminToken, testAuthEnv } from './support/tokens.js';

/**
 * Graceful drain on SIGTERM (ADR 0055), against a real inventory process on a real Postgres and nats-server: readiness
 * turns 503 at once, requests are still served through the shutdown delay, a request in flight when the server stops
 * accepting still completes, idle keep-alive connections are closed, and a request that never ends is cut at the
 * drain timeout.
 */
let nats: NatsServer;
let admin: NatsConnection;
let databaseUrl: string;
const keyEncryptionKey = newKeyEncryptionKey();
const children: ChildProcess[] = [];

type Started = { child: ChildProcess; port: number; url: string; exited: Promise<number | null> };
type Urls = Parameters<typeof serviceEnvironment>[0]['urls'];

/** Every peer on a port nothing listens on (a service that is down), unless named. */
async function peers(given: Partial<Urls> = {}): Promise<Urls> {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  return { ...(Object.fromEntries(SERVICES.map((name) => [name, nowhere])) as Urls), ...given };
}

async function startInventory(env: Record<string, string> = {}): Promise<Started> {
  return startService('inventory', await peers(), env);
}

async function startService(name: 'inventory' | 'gateway', urls: Urls, env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [serviceEntry(name)], {
    env: serviceEnvironment({
      name,
      parent: process.env,
      natsUrl: nats.url,
      natsCredentials: credentialsOf(inject('natsAuth'), name),
      databaseUrl,
      urls,
      port,
      metricsPort: await freePort(),
      overrides: { ...testAuthEnv(), LOG_LEVEL: 'warn', KEY_ENCRYPTION_KEY: keyEncryptionKey, ...env },
    }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  await waitFor(`${name} to be ready`, async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok === true, 60_000, 100);
  return { child, port, url, exited };
}

/** Whether a new TCP connection to the port is refused (the server no longer accepts). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

type Answer = { status: number; connection: string | undefined; body: string };

/**
 * A POST whose body is sent in two parts: it is in flight on the server (its handler waits for the body) from the
 * moment `accepted` resolves (the server answered `Expect: 100-continue`) until `finish()` sends the rest.
 */
async function slowPost(url: string, path: string, body: object) {
  const text = JSON.stringify(body);
  const cut = Math.floor(text.length / 2);
  const request = http.request(`${url}${path}`, {
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${await adminToken()}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      expect: '100-continue',
    },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    request.once('response', (response) => {
      let received = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (received += chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, body: received }));
      response.once('error', reject);
    });
    request.once('error', reject);
  });
  answer.catch(() => undefined);
  const accepted = once(request, 'continue').then(() => request.write(text.slice(0, cut)));
  request.flushHeaders();
  await accepted;
  return { answer, finish: () => request.end(text.slice(cut)) };
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  admin = await applyTestTopology(nats.url, inject('natsAuth'));
  databaseUrl = await createTestDatabase(inject('postgresUrl'), 'drain');
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await admin?.close();
  await nats?.stop();
});

describe("the gateway's readiness", () => {
  it('stays ready with an upstream down, which its diagnosis names; requests to that upstream get a problem', async () => {
    const inventory = await startInventory();
    const gateway = await startService('gateway', await peers({ inventory: inventory.url }), {});
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: {} });

    const order = await fetch(`${gateway.url}/readyz/order`);
    expect(order.status).toBe(503);
    expect(await order.json()).toMatchObject({ name: 'order', required: false, status: 'failing' });
    const up = await fetch(`${gateway.url}/readyz/inventory`);
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ name: 'inventory', required: false, status: 'ok' });
    // Its own NATS connection (the live stream's) is a dependency too, connected in the background.
    const verbose = await waitFor(
      'the gateway to report its NATS connection',
      async () => {
        const body = (await (await fetch(`${gateway.url}/readyz?verbose`)).json()) as {
          status: string;
          dependencies: Record<string, { ok: boolean }>;
        };
        return body.dependencies.nats?.ok ? body : undefined;
      },
      30_000,
      50,
    );
    expect(verbose.status).toBe('ready');
    expect(
      Object.entries(verbose.dependencies)
        .flatMap(([name, result]) => (result.ok ? [name] : []))
        .sort(),
    ).toEqual(['inventory', 'nats']);

    const headers = { authorization: `Bearer ${await adminToken()}` };
    const served = await fetch(`${gateway.url}/api/products?limit=1`, { headers });
    expect(served.status).toBe(200);
    const refusedUpstream = await fetch(`${gateway.url}/api/customers/0190a8e2-7c1e-7000-8000-000000000001`, { headers });
    expect(refusedUpstream.status).toBe(502);
    expect(refusedUpstream.headers.get('content-type')).toBe('application/problem+json');

    gateway.child.kill('SIGTERM');
    inventory.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(await inventory.exited).toBe(0);
  });
});

describe('graceful drain on SIGTERM', () => {
  it('answers readiness 503 at once, serves through the delay, and completes the request in flight after it stops accepting', async () => {
    const inventory = await startInventory({ SHUTDOWN_DELAY_MS: '3000', DRAIN_TIMEOUT_MS: '20000' });
    const token = await adminToken();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`${inventory.url}/api/products`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ sku: 'DRAIN-1', name: 'Drained', priceCents: 100, stock: 5 }),
    });
    expect(created.status).toBe(201);
    const product = (await created.json()) as { id: string };

    const inFlight = await slowPost(inventory.url, '/api/products', { sku: 'DRAIN-2', name: 'In flight', priceCents: 200, stock: 7 });
    const signalled = performance.now();
    inventory.child.kill('SIGTERM');

    // Not ready at once: the first probe after the signal already sees 503, well inside the 3 s shutdown delay.
    const draining = await waitFor(
      'readiness to turn 503',
      async () => {
        const response = await fetch(`${inventory.url}/readyz`, { signal: AbortSignal.timeout(1000) });
        return response.status === 503 ? response : undefined;
      },
      2000,
      10,
    );
    const notReadyAfterMs = performance.now() - signalled;
    expect(await draining.json()).toMatchObject({ status: 'draining' });
    expect(notReadyAfterMs).toBeLessThan(2000);

    // A new request in the pre-stop window is still served, and its connection is not kept alive.
    const during = await fetch(`${inventory.url}/api/products/${product.id}`, { headers });
    expect(during.status).toBe(200);
    expect(during.headers.get('connection')).toBe('close');
    expect(((await during.json()) as { id: string }).id).toBe(product.id);

    // After the delay the server stops accepting; the request in flight is still being served.
    await waitFor('the server to stop accepting', () => refused(inventory.port), 10_000, 20);
    expect(inventory.child.exitCode).toBeNull();
    inFlight.finish();
    const answer = await inFlight.answer;
    expect(answer.status).toBe(201);
    expect(answer.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ name: 'In flight', available: 7 });

    expect(await inventory.exited).toBe(0);
    // What the drained request committed is in the database.
    const pg = (await import('pg')).default;
    const sql = new pg.Client({ connectionString: databaseUrl });
    await sql.connect();
    try {
      const { rows } = await sql.query(`SELECT id FROM inventory.products WHERE id = $1`, [JSON.parse(answer.body).id]);
      expect(rows).toHaveLength(1);
    } finally {
      await sql.end();
    }
  });

  it('closes idle keep-alive connections at once and cuts a request that never ends at the drain timeout', async () => {
    const inventory = await startInventory({ SHUTDOWN_DELAY_MS: '0', DRAIN_TIMEOUT_MS: '1500' });
    // An idle keep-alive connection: one request answered, the socket kept open for the next.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const socketClosed = new Promise<number>((resolve, reject) => {
      const request = http.get(`${inventory.url}/healthz`, { agent }, (response) => {
        response.resume();
        response.once('end', () => undefined);
      });
      request.once('socket', (socket) => socket.once('close', () => resolve(performance.now())));
      request.once('error', reject);
    });
    await waitFor('the keep-alive socket to be idle in the agent', async () => Object.keys(agent.freeSockets).length === 1, 5000, 10);

    const stuck = await slowPost(inventory.url, '/api/products', { sku: 'STUCK', name: 'Never finished', priceCents: 1, stock: 1 });
    const signalled = performance.now();
    inventory.child.kill('SIGTERM');

    const idleClosedAfterMs = (await socketClosed) - signalled;
    await expect(stuck.answer).rejects.toThrow(/socket hang up|ECONNRESET/);
    const cutAfterMs = performance.now() - signalled;
    expect(await inventory.exited).toBe(0);
    // The idle connection goes with the listener; the stuck request holds on until the drain timeout, no longer.
    expect(idleClosedAfterMs).toBeLessThan(1500);
    expect(cutAfterMs).toBeGreaterThanOrEqual(1400);
    expect(cutAfterMs).toBeLessThan(10_000);
    agent.destroy();
  });

  it("ends the gateway's open event streams once the delay is over, cleanly and with a resume point, instead of holding them to the drain timeout", async () => {
    // A drain timeout far longer than the wait below: only ending the stream itself lets the test pass.
    const gateway = await startService('gateway', await peers(), { SHUTDOWN_DELAY_MS: '500', DRAIN_TIMEOUT_MS: '300000' });
    const token = await adminToken();
    const stream = await new Promise<{ status: number; retry: Promise<string>; end: Promise<'ended' | 'cut'> }>((resolve, reject) => {
      const request = http.get(
        `${gateway.url}/api/stream/events`,
        { agent: false, headers: { authorization: `Bearer ${token}` } },
        (response) => {
          let received = '';
          let sawRetry: (value: string) => void = () => undefined;
          const retry = new Promise<string>((found) => (sawRetry = found));
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            received += chunk;
            const line = /^retry: (\d+)$/m.exec(received);
            if (line) sawRetry(line[1] as string);
          });
          // Complete: the chunked body's last chunk arrived (a server that cuts the socket leaves it incomplete).
          const end = new Promise<'ended' | 'cut'>((settle) => response.once('close', () => settle(response.complete ? 'ended' : 'cut')));
          resolve({ status: response.statusCode ?? 0, retry, end });
        },
      );
      request.once('error', reject);
    });
    expect(stream.status).toBe(200);
    // The stream tells its client how soon to reconnect: it does so through the Service, to another gateway.
    expect(Number(await stream.retry)).toBeGreaterThan(0);
    gateway.child.kill('SIGTERM');
    const ended = await waitFor('the event stream to end', () => Promise.race([stream.end, Promise.resolve(undefined)]), 60_000, 50);
    expect(ended).toBe('ended');
    expect(await gateway.exited).toBe(0);
  });
});
