#!/usr/bin/env node
// `npm run bench:tracing`: what tracing costs. Runs the same saga load against the whole system with tracing off and
// with tracing on (every span exported over OTLP to a local Jaeger), alternating off/on rounds in one run on one
// machine, and prints saga throughput for each and the difference. Everything runs on loopback and stops by itself.
//   SAGAS (per round, default 150), CONCURRENCY (default 15), ROUNDS (per mode, default 2),
//   MODES (default off,on; `sampled` adds tracing with 10% of sagas sampled at the first service)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  adminCredentials,
  createTestDatabase,
  ensureJaeger,
  ensureNatsServer,
  startJaeger,
  startDevIssuer,
  startPostgres,
  startSystem,
  natsAuthFor,
  startTestNats,
  TOPOLOGY_DIR,
  waitFor,
} from '../packages/devstack/dist/index.js';
import { connectNats } from '../packages/platform/dist/index.js';
import { applyTopologyFrom } from '../services/operator/dist/index.js';

const SAGAS = Number(process.env.SAGAS ?? 150);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 15);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const MODES = (process.env.MODES ?? 'off,on').split(',');
const say = (message) => console.log(`[bench] ${message}`);

/** The admin token every request carries (the development issuer below signs it). */
let bearer;

async function call(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path} -> ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs `count` tasks, at most `limit` at a time. */
async function pool(count, limit, task) {
  let next = 0;
  const results = [];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

async function round(mode, tools) {
  const natsAuth = await natsAuthFor();
  const nats = await startTestNats(tools.natsBin, { auth: natsAuth });
  const databaseUrl = await createTestDatabase(tools.postgres.url, `bench_${mode}`);
  const nc = await connectNats(nats.url, 'bench', adminCredentials(natsAuth));
  await applyTopologyFrom(nc, TOPOLOGY_DIR);
  await nc.close();
  const logDir = await mkdtemp(join(tmpdir(), 'jetsaga-bench-logs-'));
  const traced = { OTEL_EXPORTER_OTLP_ENDPOINT: tools.jaeger.otlpHttpUrl, LOG_LEVEL: 'warn' };
  const env = {
    off: { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' },
    on: traced,
    sampled: { ...traced, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  }[mode];
  if (!env) throw new Error(`unknown mode ${mode}`);
  const system = await startSystem({
    natsUrl: nats.url,
    natsAuth,
    databaseUrl,
    ports: 'free',
    env: { ...tools.issuer.env, ...env },
    output: { kind: 'files', pathFor: (name) => join(logDir, `${name}.log`) },
  });
  try {
    const base = system.gatewayUrl;
    // Set-up (not timed): one customer and one cart per saga, all able to complete.
    const product = await call(base, 'POST', '/api/products', {
      sku: `BENCH-${mode}-${Date.now()}`,
      name: 'bench',
      priceCents: 100,
      stock: SAGAS * 10,
    });
    const carts = await pool(SAGAS, CONCURRENCY, async () => {
      const customer = await call(base, 'POST', '/api/customers', {
        name: 'Bench',
        email: `b${Math.random().toString(36).slice(2)}@example.org`,
        balanceCents: 1_000_000,
      });
      const cart = await call(base, 'POST', '/api/carts', { customerId: customer.id });
      await call(base, 'POST', `/api/carts/${cart.id}/items`, { productId: product.id, quantity: 1 });
      return cart.id;
    });
    const started = performance.now();
    const outcomes = await pool(SAGAS, CONCURRENCY, async (index) => {
      const { orderId } = await call(base, 'POST', `/api/carts/${carts[index]}/checkout`);
      const order = await waitFor(
        `order ${orderId}`,
        async () => {
          const current = await call(base, 'GET', `/api/orders/${orderId}`);
          return current.status === 'PENDING' ? undefined : current;
        },
        60_000,
        20,
      );
      return order.status;
    });
    const seconds = (performance.now() - started) / 1000;
    const completed = outcomes.filter((status) => status === 'COMPLETED').length;
    if (completed !== SAGAS) throw new Error(`${SAGAS - completed} sagas did not complete in the ${mode} round`);
    return SAGAS / seconds;
  } finally {
    await system.stop();
    await nats.stop();
    await rm(logDir, { recursive: true, force: true });
  }
}

const work = await mkdtemp(join(tmpdir(), 'jetsaga-bench-'));
const natsBin = await ensureNatsServer(say);
// Its own temporary directory: as root, Postgres runs as `postgres`, which must be able to reach it.
const postgres = await startPostgres({ dir: await mkdtemp(join(tmpdir(), 'jetsaga-bench-pg-')), ephemeral: true, fast: true });
const jaeger = await startJaeger({ bin: await ensureJaeger(say), dir: join(work, 'jaeger') });
const issuer = await startDevIssuer({ dir: join(work, 'issuer') });
bearer = await issuer.sign({ role: 'admin', sub: 'bench', ttl: '12h' });
const tools = { natsBin, postgres, jaeger, issuer };
const results = Object.fromEntries(MODES.map((mode) => [mode, []]));
try {
  say(`${ROUNDS} rounds per mode, ${SAGAS} sagas per round, ${CONCURRENCY} at a time`);
  for (let i = 0; i < ROUNDS; i++) {
    for (const mode of MODES) {
      const rate = await round(mode, tools);
      results[mode].push(rate);
      say(`tracing ${mode.padEnd(7)} round ${i + 1}: ${rate.toFixed(1)} sagas/s`);
    }
  }
  const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const off = results.off ? mean(results.off) : undefined;
  for (const mode of MODES) {
    const rate = mean(results[mode]);
    const cost = off && mode !== 'off' ? `; ${(((off - rate) / off) * 100).toFixed(1)}% less than with tracing off` : '';
    say(`tracing ${mode}: ${rate.toFixed(1)} sagas/s${cost}`);
  }
} finally {
  await issuer.stop();
  await jaeger.stop();
  await postgres.stop();
  await rm(work, { recursive: true, force: true });
}
