import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentialsOf,
  ensureJaeger,
  freePort,
  type JaegerServer,
  serviceEntry,
  serviceEnvironment,
  startJaeger,
  waitFor,
} from '@jetsaga/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, type Api } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { expectProblem } from './support/problems.js';

/**
 * GET /api/sagas/:correlationId/trace against a real Jaeger v2 (the local backend; Tempo answers the same route on a
 * cluster): a completed saga's spans, normalized, with the log lines written inside them as `log` span events.
 * TRACE_FIXTURES_DIR=<dir> also writes Jaeger's two answers for one trace there (how the normalizer's fixtures were made).
 */
let work: string;
let jaeger: JaegerServer;
let t: TestSystem;
let api: Api;
let untraced: { child: ChildProcess; api: Api } | undefined;
const say = (message: string) => console.log(`[trace] ${message}`);

type Span = {
  spanId: string;
  parentSpanId: string | null;
  traceId: string;
  service: string;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  status: { code: string };
  attributes: Record<string, unknown>;
  events: Array<{ name: string; timeUnixNano: string; attributes: Record<string, unknown> }>;
};
type Trace = { correlationId: string; traceId: string; traceIds: string[]; backend: string; spans: Span[] };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'jetsaga-trace-'));
  jaeger = await startJaeger({ bin: await ensureJaeger(say), dir: join(work, 'jaeger') });
  t = await startTestSystem({
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    TRACE_BACKEND: 'jaeger',
    TRACE_QUERY_URL: jaeger.queryUrl,
    // The consumers' "message processed" lines are debug: written inside their spans, they become span events.
    LOG_LEVEL: 'debug',
  });
  api = t.api;
});

afterAll(async () => {
  untraced?.child.kill('SIGTERM');
  await t?.stop();
  await jaeger?.stop();
});

/** The hops every completed saga makes: the checkout through the gateway, then each service's reaction. */
const HOPS = [
  { service: 'gateway', kind: 'SERVER' },
  { service: 'order', kind: 'SERVER' },
  { service: 'order', kind: 'PRODUCER' },
  { service: 'inventory', kind: 'CONSUMER' },
  { service: 'inventory', kind: 'PRODUCER' },
  { service: 'payment', kind: 'CONSUMER' },
  { service: 'payment', kind: 'PRODUCER' },
  { service: 'sales', kind: 'CONSUMER' },
  { service: 'order', kind: 'CONSUMER' },
];

const hasHop = (spans: Span[], hop: { service: string; kind: string }) =>
  spans.some((s) => s.service === hop.service && s.kind === hop.kind);

async function completedSaga() {
  const customer = await api.customer(10_000);
  const product = await api.product(10, 1_000);
  const order = await api.terminal(await api.buy(customer.id, product.id, 1));
  expect(order.status).toBe('COMPLETED');
  return { customerId: customer.id, order };
}

/** The trace once the backend has every hop (spans are exported in batches, a moment after they end). */
function traceWithEveryHop(correlationId: string, as: Api = api): Promise<Trace> {
  return waitFor(
    `the trace of saga ${correlationId} to hold every hop`,
    async () => {
      const response = await as.call<Trace>('GET', `/api/sagas/${correlationId}/trace`);
      if (response.status !== 200) return undefined;
      const { spans } = response.body;
      // Spans arrive as each service exports them: wait until no span waits for its parent (the gateway's comes from the client).
      const ids = new Set(spans.map((s) => s.spanId));
      const parentsThere = spans.every((s) => s.parentSpanId === null || s.service === 'gateway' || ids.has(s.parentSpanId));
      return HOPS.every((hop) => hasHop(spans, hop)) && parentsThere ? response.body : undefined;
    },
    30_000,
    200,
  );
}

describe("a saga's trace", () => {
  it('lists each service hop of a completed saga, normalized, by start time, parents inside the trace', async () => {
    const { order } = await completedSaga();
    const trace = await traceWithEveryHop(order.correlationId);
    expect(trace).toMatchObject({ correlationId: order.correlationId, backend: 'jaeger' });
    expect(trace.traceIds).toContain(trace.traceId);
    // The order keeps the trace its checkout started: the saga's first.
    if (order.traceId) expect(trace.traceId).toBe(order.traceId);
    const ids = new Set(trace.spans.map((s) => s.spanId));
    for (const span of trace.spans) {
      expect(trace.traceIds).toContain(span.traceId);
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
      expect(span.durationMs).toBeCloseTo(Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6, 1);
      expect(['UNSET', 'OK', 'ERROR']).toContain(span.status.code);
      if (span.parentSpanId !== null && span.traceId === trace.traceId && span.service !== 'gateway') {
        // A parent outside the answer would be a span the backend lost: every parent of a service span is there.
        expect(ids.has(span.parentSpanId), `${span.service} ${span.name}`).toBe(true);
      }
    }
    const starts = trace.spans.map((s) => BigInt(s.startTimeUnixNano));
    expect(starts.every((start, i) => i === 0 || start >= starts[i - 1]!)).toBe(true);
    // Messaging spans are named for their subject (semantic conventions).
    expect(trace.spans.some((s) => s.kind === 'CONSUMER' && s.name === 'process events.order.*.OrderPlaced')).toBe(true);

    if (process.env.TRACE_FIXTURES_DIR) {
      const dir = process.env.TRACE_FIXTURES_DIR;
      await mkdir(dir, { recursive: true });
      for (const [file, path] of [
        ['jaeger-api-traces.json', `/api/traces/${trace.traceId}`],
        ['jaeger-api-v3-otlp.json', `/api/v3/traces/${trace.traceId}`],
      ] as const) {
        await writeFile(join(dir, file), `${JSON.stringify(await (await fetch(`${jaeger.queryUrl}${path}`)).json(), null, 1)}\n`);
      }
    }
  });

  it('carries the log lines written inside a span as its `log` events (level, msg, fields)', async () => {
    const { order } = await completedSaga();
    const trace = await traceWithEveryHop(order.correlationId);
    const processed = trace.spans
      .filter((s) => s.kind === 'CONSUMER')
      .flatMap((s) => s.events.filter((e) => e.name === 'log').map((e) => ({ span: s, event: e })));
    expect(processed.length).toBeGreaterThan(0);
    for (const { span, event } of processed.filter(({ event }) => event.attributes.msg === 'message processed')) {
      expect(event.attributes).toMatchObject({ level: 'debug', msg: 'message processed', outcome: 'ack' });
      expect(span.name).toBe(`process ${String(event.attributes.subject).replace(/^(events\.[^.]+)\.[^.]+\./, '$1.*.')}`);
      expect(BigInt(event.timeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
    }
  });

  it("answers a customer their own saga's trace and 403 another's; 404 for an unknown saga", async () => {
    const customer = await api.customer(10_000);
    const product = await api.product(10, 1_000);
    const owner = api.as('customer', customer.id);
    const order = await api.terminal(await owner.buy(customer.id, product.id, 1));
    const own = await traceWithEveryHop(order.correlationId, owner);
    expect(own.spans.length).toBeGreaterThan(0);
    const stranger = api.as('customer', (await api.customer(10_000)).id);
    expectProblem(await stranger.call('GET', `/api/sagas/${order.correlationId}/trace`), 403);
    expectProblem(await api.call('GET', '/api/sagas/0190a8e2-7c1e-7000-8000-000000000001/trace'), 404);
  });

  it('answers 503 tracing-disabled where no trace backend is configured', async () => {
    const { order } = await completedSaga();
    // A second event-store replica on the same database and NATS, started without TRACE_QUERY_URL.
    const port = await freePort();
    const env = serviceEnvironment({
      name: 'event-store',
      parent: process.env,
      natsUrl: t.nats.url,
      natsCredentials: credentialsOf(t.natsAuth, 'event-store'),
      databaseUrl: (t.sql as unknown as { options: { connectionString: string } }).options.connectionString,
      urls: t.system.urls,
      port,
      metricsPort: await freePort(),
      overrides: { ...t.authEnv, LOG_LEVEL: 'warn', KEY_ENCRYPTION_KEY: t.system.keyEncryptionKey },
    });
    const child = spawn(process.execPath, [serviceEntry('event-store')], { env, stdio: 'ignore' });
    untraced = { child, api: apiClient(`http://127.0.0.1:${port}`) };
    await waitFor(
      'the untraced replica to be ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true,
      60_000,
      200,
    );
    const response = await untraced.api.call('GET', `/api/sagas/${order.correlationId}/trace`);
    expectProblem(response, 503);
    expect(response.body.type).toBe('urn:jetsaga:problem:tracing-disabled');
  });

  it('answers 502 trace-backend-unreachable when the backend is down', async () => {
    const { order } = await completedSaga();
    await jaeger.stop();
    const response = await api.call('GET', `/api/sagas/${order.correlationId}/trace`);
    expectProblem(response, 502);
    expect(response.body.type).toBe('urn:jetsaga:problem:trace-backend-unreachable');
    expect(response.body.detail).toMatch(/jaeger/);
  });
});
