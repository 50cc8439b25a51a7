import { readFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureJaeger,
  ensurePrometheus,
  type JaegerServer,
  type PrometheusServer,
  SERVICES,
  startJaeger,
  startPrometheus,
  waitFor,
} from '@jetsaga/devstack';
import { EVENTS_STREAM, eventSubject, uuidv7 } from '@jetsaga/events';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api, Order } from './support/api.js';
import { type Shipment, shippingApi } from './support/shipping.js';
import { startTestSystem, type TestSystem, waitForConsumerIdle, waitForOutboxesDrained } from './support/harness.js';
import {
  alertSignal,
  dashboardExpressions,
  describeMatcher,
  edge,
  fetchTrace,
  plainRuleFile,
  ruleGroups,
  type SagaEvent,
  sagaHops,
  type SpanMatcher,
  type Subscription,
  type TraceSpan,
  withGrafanaVariables,
} from './support/observability.js';

/**
 * The observability contract against real backends: Jaeger v2 (OTLP in, HTTP query API out; Tempo in clusters)
 * receives the services' spans, and a real Prometheus scrapes their metrics ports and evaluates the alert rules.
 */

let work: string;
let jaeger: JaegerServer;
let prometheus: PrometheusServer;
let t: TestSystem;
let api: Api;
const say = (message: string) => console.log(`[observability] ${message}`);

/** The event store's own metrics (docs/metrics.md): each must be exported, and every panel and alert on it has data. */
const EVENT_STORE_METRICS = [
  'event_store_mirror_lag_messages',
  'event_store_mirror_lag_seconds',
  'event_store_events_total',
  'event_store_projection_lag_messages',
];

const span = (service: string, kind: string, name: string | RegExp): SpanMatcher => ({ service, kind, name });
const send = (service: string, aggregate: string, type: string) => span(service, 'producer', `send events.${aggregate}.*.${type}`);
const handled = (service: string, aggregate: string, type: string) => span(service, 'consumer', `process events.${aggregate}.*.${type}`);

/**
 * Who consumes EVENTS: each durable consumer of the stream (named after its service, or `<service>-<what>` when a
 * service has several, which expectMessagingAttributes checks on every span) with its filters, and the event store's
 * mirror, which stores every event.
 */
const serviceOfConsumer = (consumer: string) =>
  SERVICES.find((service) => consumer === service || consumer.startsWith(`${service}-`)) ?? consumer;

async function subscriptions(): Promise<Subscription[]> {
  const jsm = await jetstreamManager(t.nc);
  const consumers = await jsm.consumers.list(EVENTS_STREAM).next();
  const durables = consumers
    .filter((info) => info.config.durable_name)
    .map((info) => ({
      service: serviceOfConsumer(info.name),
      consumer: info.name,
      filterSubjects: info.config.filter_subjects ?? (info.config.filter_subject ? [info.config.filter_subject] : ['>']),
    }));
  expect(durables.length).toBeGreaterThan(0);
  return [...durables, { service: 'event-store', consumer: 'event-store', filterSubjects: ['events.>'] }];
}

/** Every event of the saga, once every consumer is idle, every outbox relayed and the mirror caught up. */
async function sagaEvents(order: Order, subs: readonly Subscription[]): Promise<SagaEvent[]> {
  for (const { consumer } of subs) if (consumer !== 'event-store') await waitForConsumerIdle(t.nc, EVENTS_STREAM, consumer);
  await waitForOutboxesDrained(t.sql);
  await waitFor('the mirror to catch up', async () => (await api.call('GET', '/api/event-store/status')).body.mirror.lag === 0, 30_000);
  const events = await correlatedEvents(order);
  expect(events.map((event) => event.type)).toContain('OrderPlaced');
  return events;
}

/** The saga's events in the event store now. */
async function correlatedEvents(order: Order): Promise<SagaEvent[]> {
  const { body } = await api.call('GET', `/api/events?correlationId=${order.correlationId}&limit=1000`);
  expect(body.next).toBeNull();
  return body.events as SagaEvent[];
}

/**
 * The saga's trace once it holds every hop of the saga's events (sagaHops) and every edge of `expected`, and its span
 * count has settled: spans arrive in batches from six processes.
 */
async function sagaTrace(
  order: Order,
  expected: Array<[SpanMatcher, SpanMatcher]>,
): Promise<{ spans: TraceSpan[]; events: SagaEvent[]; stray: string[] }> {
  expect(order.traceId, 'GET /api/orders/:id returns the trace id').toMatch(/^[0-9a-f]{32}$/);
  const traceId = order.traceId as string;
  const subs = await subscriptions();
  let events = await sagaEvents(order, subs);
  const missingEdges = (spans: TraceSpan[]) =>
    expected
      .filter(([parent, child]) => edge(spans, parent, child).length === 0)
      .map(([p, c]) => `${describeMatcher(p)} -> ${describeMatcher(c)}`);
  let previous = -1;
  return waitFor(
    `trace ${traceId} to hold every hop of the saga`,
    async () => {
      const spans = await fetchTrace(jaeger.queryUrl, traceId);
      // Read again each time: an event may follow the saga's end (the notification of it is sent, NotificationSent
      // is recorded), and its spans are the saga's, not strays.
      const latest = await correlatedEvents(order);
      const { missing, stray } = sagaHops(spans, latest, subs);
      const settled = spans.length === previous && latest.length === events.length;
      previous = spans.length;
      events = latest;
      return missing.length === 0 && missingEdges(spans).length === 0 && settled ? { spans, events, stray } : undefined;
    },
    30_000,
    500,
  ).catch(async (error) => {
    const spans = await fetchTrace(jaeger.queryUrl, traceId);
    const missing = [...sagaHops(spans, events, subs).missing, ...missingEdges(spans)];
    const lines = spans.map((s) => `  ${s.service} ${s.kind} ${s.name} (${s.spanId} <- ${s.parentId ?? 'root'})`);
    throw new Error(`${(error as Error).message}\nmissing edges:\n  ${missing.join('\n  ')}\nspans:\n${lines.join('\n')}`);
  });
}

/** What every saga's trace holds: one root at the gateway, the checkout through it, attributes on every hop. */
function expectSagaTrace(spans: TraceSpan[], order: Order, stray: string[]) {
  expect(stray, 'messaging spans of no event of the saga').toEqual([]);
  expectMessagingAttributes(spans, order);
  expect(spans.filter((s) => !s.parentId).map((s) => `${s.service} ${s.name}`)).toEqual(['gateway POST /api/*']);
}

const CHECKOUT: Array<[SpanMatcher, SpanMatcher]> = [
  [span('gateway', 'server', 'POST /api/*'), span('gateway', 'client', /^POST/)],
  [span('gateway', 'client', /^POST/), span('order', 'server', 'POST /api/carts/:id/checkout')],
  [span('order', 'server', 'POST /api/carts/:id/checkout'), send('order', 'order', 'OrderPlaced')],
];

function expectEdges(spans: TraceSpan[], expected: Array<[SpanMatcher, SpanMatcher]>) {
  for (const [parent, child] of expected) {
    expect(edge(spans, parent, child).length, `${describeMatcher(parent)} -> ${describeMatcher(child)}`).toBeGreaterThan(0);
  }
}

/** Messaging attributes of every send and process span of the saga. */
function expectMessagingAttributes(spans: TraceSpan[], order: Order) {
  const messaging = spans.filter((s) => s.kind === 'producer' || s.kind === 'consumer');
  expect(messaging.length).toBeGreaterThan(0);
  for (const s of messaging.filter((m) => m.name.includes('events.'))) {
    expect(s.tags['messaging.system'], s.name).toBe('nats');
    expect(s.tags['messaging.operation.type'], s.name).toBe(s.kind === 'producer' ? 'send' : 'process');
    expect(String(s.tags['messaging.destination.name']), s.name).toMatch(/^events\.[a-z]+\.[0-9a-f-]{36}\.[A-Za-z]+$/);
    expect(s.tags['messaging.destination.template'], s.name).toBe(s.name.replace(/^(send|process) /, ''));
    expect(String(s.tags['messaging.message.id']), s.name).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(s.tags['messaging.message.body.size']), s.name).toBeGreaterThan(50);
    expect(s.tags['jetsaga.correlation_id'], s.name).toBe(order.correlationId);
    expect(s.tags['jetsaga.event_type'], s.name).toBe(s.name.split('.').at(-1));
    if (s.kind === 'consumer') expect(serviceOfConsumer(String(s.tags['messaging.consumer.group.name'])), s.name).toBe(s.service);
  }
}

async function prometheusQuery(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  const response = await fetch(`${prometheus.url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }),
    signal: AbortSignal.timeout(10_000),
  });
  return (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'jetsaga-observability-'));
  // The first run on a machine builds Jaeger from the Go module proxy (minutes); later runs take it from the cache.
  const jaegerBin = await ensureJaeger(say);
  const tools = await ensurePrometheus(say);
  jaeger = await startJaeger({ bin: jaegerBin, dir: join(work, 'jaeger') });
  t = await startTestSystem({
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    // Short enough for the deadline saga below, long enough for every other saga on a busy two-core machine.
    SAGA_DEADLINE_MS: '5000',
    LOG_LEVEL: 'debug',
  });
  api = t.api;
  const scrapeJobs = Object.entries(t.system.metricsUrls).map(([name, url]) => {
    const { host } = new URL(url);
    return `  - job_name: ${name}\n    static_configs:\n      - targets: ['${host}']`;
  });
  await writeFile(join(work, 'jetsaga.rules.yaml'), plainRuleFile());
  prometheus = await startPrometheus({
    bin: tools.prometheus,
    dir: work,
    config: [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${join(work, 'jetsaga.rules.yaml')}`,
      'scrape_configs:',
      ...scrapeJobs,
      '',
    ].join('\n'),
  });
}, 900_000);

afterAll(async () => {
  t?.system.supervisor.signal('payment', 'SIGCONT');
  await t?.stop();
  await prometheus?.stop();
  await jaeger?.stop();
});

/** Spans of one saga's trace: the total and how many of each kind (server, client, producer, consumer). */
const spanCounts: Record<string, Record<string, number>> = {};
function countByKind(spans: readonly TraceSpan[]): Record<string, number> {
  const counts: Record<string, number> = { total: spans.length };
  for (const s of spans) counts[s.kind] = (counts[s.kind] ?? 0) + 1;
  return counts;
}

describe('one trace per saga, across every NATS hop (Jaeger)', () => {
  it('a completed checkout is one trace: gateway -> order -> relay -> inventory -> payment -> sales -> order, inventory, shipping, notification and audit', async () => {
    const ada = await api.customer(10_000);
    const lamp = await api.product(5, 1_500);
    const orderId = await api.buy(ada.id, lamp.id, 2);
    const order = await api.terminal(orderId);
    expect(order.status).toBe('COMPLETED');
    const expected: Array<[SpanMatcher, SpanMatcher]> = [
      [span('gateway', 'server', 'POST /api/*'), span('gateway', 'client', /^POST/)],
      [span('gateway', 'client', /^POST/), span('order', 'server', 'POST /api/carts/:id/checkout')],
      [span('order', 'server', 'POST /api/carts/:id/checkout'), send('order', 'order', 'OrderPlaced')],
      [send('order', 'order', 'OrderPlaced'), handled('inventory', 'order', 'OrderPlaced')],
      [handled('inventory', 'order', 'OrderPlaced'), send('inventory', 'reservation', 'StockReserved')],
      [send('inventory', 'reservation', 'StockReserved'), handled('payment', 'reservation', 'StockReserved')],
      [handled('payment', 'reservation', 'StockReserved'), send('payment', 'payment', 'PaymentAccepted')],
      [send('payment', 'payment', 'PaymentAccepted'), handled('sales', 'payment', 'PaymentAccepted')],
      [handled('sales', 'payment', 'PaymentAccepted'), send('sales', 'sale', 'SaleConfirmed')],
      [send('sales', 'sale', 'SaleConfirmed'), handled('order', 'sale', 'SaleConfirmed')],
      [handled('order', 'sale', 'SaleConfirmed'), send('order', 'order', 'OrderCompleted')],
      [send('sales', 'sale', 'SaleConfirmed'), handled('inventory', 'sale', 'SaleConfirmed')],
      [handled('inventory', 'sale', 'SaleConfirmed'), send('inventory', 'reservation', 'StockCommitted')],
      // After the sale, shipping opens the parcel in the same trace.
      [send('sales', 'sale', 'SaleConfirmed'), handled('shipping', 'sale', 'SaleConfirmed')],
      [handled('shipping', 'sale', 'SaleConfirmed'), send('shipping', 'shipment', 'ShipmentCreated')],
      // The customer's email about the completed order, and its NotificationSent, in the same trace.
      [send('order', 'order', 'OrderCompleted'), handled('notification', 'order', 'OrderCompleted')],
      [handled('notification', 'order', 'OrderCompleted'), send('notification', 'notification', 'NotificationSent')],
      // The audit trail records every event on a consumer of its own.
      [send('order', 'order', 'OrderPlaced'), handled('audit', 'order', 'OrderPlaced')],
      [send('order', 'order', 'OrderCompleted'), handled('audit', 'order', 'OrderCompleted')],
      // The event store mirrors every event of the saga: each stored event is a span under the send that published it.
      [send('order', 'order', 'OrderPlaced'), handled('event-store', 'order', 'OrderPlaced')],
      [send('payment', 'payment', 'PaymentAccepted'), handled('event-store', 'payment', 'PaymentAccepted')],
      [send('sales', 'sale', 'SaleConfirmed'), handled('event-store', 'sale', 'SaleConfirmed')],
      [send('order', 'order', 'OrderCompleted'), handled('event-store', 'order', 'OrderCompleted')],
    ];
    const { spans, stray } = await sagaTrace(order, expected);
    expectEdges(spans, expected);
    // One trace, rooted at the gateway: nothing of the saga started a trace of its own.
    expectSagaTrace(spans, order, stray);
    expect(new Set(spans.map((s) => s.service))).toEqual(
      new Set(['gateway', 'order', 'inventory', 'payment', 'sales', 'shipping', 'notification', 'audit', 'event-store']),
    );
    // The mirror stores events in batches: a batch is a trace of its own, linked to each event it stored.
    const stored = spans.find((s) => s.service === 'event-store' && s.name === 'process events.order.*.OrderPlaced') as TraceSpan;
    expect(stored.links).toHaveLength(1);
    const batch = await fetchTrace(jaeger.queryUrl, (stored.links[0] as { traceId: string }).traceId);
    const batchRoot = batch.find((s) => s.spanId === stored.links[0]?.spanId);
    expect(batchRoot).toMatchObject({ service: 'event-store', name: 'mirror EVENTS', kind: 'consumer' });
    expect(batchRoot?.links.length).toBeGreaterThanOrEqual(1);
    // The database work of each step is in the trace too (pg instrumentation), under the step that did it.
    const checkout = spans.find((s) => s.service === 'order' && s.name === 'POST /api/carts/:id/checkout') as TraceSpan;
    expect(spans.filter((s) => s.parentId === checkout.spanId && s.tags['db.system.name'] === 'postgresql').length).toBeGreaterThan(0);
    const reserve = spans.find((s) => s.service === 'inventory' && s.name === 'process events.order.*.OrderPlaced') as TraceSpan;
    expect(spans.filter((s) => s.parentId === reserve.spanId && s.service === 'inventory' && s.kind === 'client').length).toBeGreaterThan(
      0,
    );
    // The logs of the saga carry its trace: a line written while inventory processed OrderPlaced names this trace and saga.
    const inventoryLog = await readFile(join(t.logDir, 'inventory.log'), 'utf8');
    const line = inventoryLog
      .split('\n')
      .filter((l) => l.includes(order.traceId as string) && l.includes('message processed'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.eventType === 'OrderPlaced');
    expect(line).toMatchObject({ trace_id: order.traceId, span_id: reserve.spanId, correlation_id: order.correlationId });
    spanCounts.COMPLETED = countByKind(spans);
  });

  it('a compensated saga (payment refused) is one trace: the refusal fans out to inventory (release) and order (cancel)', async () => {
    const carol = await api.customer(999);
    const desk = await api.product(4, 1_000);
    const order = await api.terminal(await api.buy(carol.id, desk.id, 1));
    expect(order).toMatchObject({ status: 'CANCELLED', reason: 'PAYMENT_REFUSED' });
    const expected: Array<[SpanMatcher, SpanMatcher]> = [
      [span('gateway', 'client', /^POST/), span('order', 'server', 'POST /api/carts/:id/checkout')],
      [span('order', 'server', 'POST /api/carts/:id/checkout'), send('order', 'order', 'OrderPlaced')],
      [send('order', 'order', 'OrderPlaced'), handled('inventory', 'order', 'OrderPlaced')],
      [handled('inventory', 'order', 'OrderPlaced'), send('inventory', 'reservation', 'StockReserved')],
      [send('inventory', 'reservation', 'StockReserved'), handled('payment', 'reservation', 'StockReserved')],
      [handled('payment', 'reservation', 'StockReserved'), send('payment', 'payment', 'PaymentRefused')],
      [send('payment', 'payment', 'PaymentRefused'), handled('inventory', 'payment', 'PaymentRefused')],
      [handled('inventory', 'payment', 'PaymentRefused'), send('inventory', 'reservation', 'StockReleased')],
      [send('payment', 'payment', 'PaymentRefused'), handled('order', 'payment', 'PaymentRefused')],
      [handled('order', 'payment', 'PaymentRefused'), send('order', 'order', 'OrderCancelled')],
    ];
    const { spans, stray } = await sagaTrace(order, [...CHECKOUT, ...expected]);
    expectEdges(spans, expected);
    expectSagaTrace(spans, order, stray);
    // Nothing was charged or sold in this saga.
    expect(spans.filter((s) => /PaymentAccepted|SaleConfirmed/.test(s.name)).map((s) => s.name)).toEqual([]);
    spanCounts.PAYMENT_REFUSED = countByKind(spans);
  });

  it('an out-of-stock saga is one trace: inventory refuses, order cancels', async () => {
    const bob = await api.customer(100_000);
    const scarce = await api.product(1, 100);
    const order = await api.terminal(await api.buy(bob.id, scarce.id, 2));
    expect(order).toMatchObject({ status: 'CANCELLED', reason: 'OUT_OF_STOCK' });
    const expected: Array<[SpanMatcher, SpanMatcher]> = [
      [send('order', 'order', 'OrderPlaced'), handled('inventory', 'order', 'OrderPlaced')],
      [handled('inventory', 'order', 'OrderPlaced'), send('inventory', 'reservation', 'StockUnavailable')],
      [send('inventory', 'reservation', 'StockUnavailable'), handled('order', 'reservation', 'StockUnavailable')],
      [handled('order', 'reservation', 'StockUnavailable'), send('order', 'order', 'OrderCancelled')],
    ];
    const { spans, stray } = await sagaTrace(order, [...CHECKOUT, ...expected]);
    expectEdges(spans, expected);
    expectSagaTrace(spans, order, stray);
    // Nothing was reserved, charged or refused.
    expect(spans.filter((s) => /StockReserved|Payment/.test(s.name)).map((s) => s.name)).toEqual([]);
    spanCounts.OUT_OF_STOCK = countByKind(spans);
  });

  it('a saga cancelled by its deadline continues the checkout trace when the JetStream schedule fires', async () => {
    const frank = await api.customer(20_000);
    const clock = await api.product(3, 4_000);
    const cart = await api.cart(frank.id);
    await api.addItem(cart.id, clock.id, 1);
    t.system.supervisor.signal('payment', 'SIGSTOP');
    let order: Order;
    try {
      order = await api.terminal(await api.checkout(cart.id), 30_000);
    } finally {
      t.system.supervisor.signal('payment', 'SIGCONT');
    }
    expect(order).toMatchObject({ status: 'CANCELLED', reason: 'DEADLINE_EXCEEDED' });
    const expected: Array<[SpanMatcher, SpanMatcher]> = [
      [span('order', 'server', 'POST /api/carts/:id/checkout'), span('order', 'producer', 'send deadlines.order.*.schedule')],
      [span('order', 'producer', 'send deadlines.order.*.schedule'), span('order', 'consumer', 'process deadlines.order.*.fired')],
      [span('order', 'consumer', 'process deadlines.order.*.fired'), send('order', 'order', 'OrderCancelled')],
      [send('order', 'order', 'OrderCancelled'), handled('inventory', 'order', 'OrderCancelled')],
    ];
    const { spans, stray } = await sagaTrace(order, [...CHECKOUT, ...expected]);
    expectEdges(spans, expected);
    expectSagaTrace(spans, order, stray);
    const fired = spans.find((s) => s.name === 'process deadlines.order.*.fired') as TraceSpan;
    expect(fired.tags).toMatchObject({ 'messaging.consumer.group.name': 'order-deadlines', 'jetsaga.correlation_id': order.correlationId });
    spanCounts.DEADLINE_EXCEEDED = countByKind(spans);
  });

  it('reports the span count of a trace for each saga outcome', () => {
    say(`spans per saga trace: ${JSON.stringify(spanCounts)}`);
    expect(Object.keys(spanCounts).sort()).toEqual(['COMPLETED', 'DEADLINE_EXCEEDED', 'OUT_OF_STOCK', 'PAYMENT_REFUSED']);
  });
});

describe('metrics, dashboards and alerts (Prometheus)', () => {
  it('a poison message is counted as a failure and shows in the dead-letter depth', async () => {
    // Not JSON at all: the inventory consumer dead-letters it at once (poison) and carries on.
    await jetstream(t.nc).publish(eventSubject('order', uuidv7(), 'OrderPlaced'), 'not an event', { msgID: uuidv7() });
    await waitForConsumerIdle(t.nc, EVENTS_STREAM, 'inventory');
    await waitFor(
      'Prometheus to see the dead letter and the failure',
      async () => {
        const dlq = await prometheusQuery('max by (consumer) (jetsaga_dlq_messages{consumer="inventory"})');
        const failed = await prometheusQuery('sum(jetsaga_events_failed_total{consumer="inventory",reason="poison"})');
        const value = (r: typeof dlq) => Number((r.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0);
        return value(dlq) === 1 && value(failed) === 1;
      },
      30_000,
      250,
    );
  });

  it('scrapes every service on its named metrics port', async () => {
    const jobs = await waitFor(
      'every target to be up',
      async () => {
        const result = await prometheusQuery('up');
        const up = (result.data?.result ?? []) as Array<{ metric: { job: string }; value: [number, string] }>;
        return up.length === SERVICES.length && up.every((series) => series.value[1] === '1')
          ? up.map((s) => s.metric.job).sort()
          : undefined;
      },
      30_000,
      250,
    );
    expect(jobs).toEqual([...SERVICES].sort());
    // Every series of a jetsaga service names it in `app`, and Node's process metrics are there for each one.
    const apps = await prometheusQuery('count by (app) (process_cpu_seconds_total)');
    expect((apps.data?.result as Array<{ metric: { app: string } }>).map((r) => r.metric.app).sort()).toEqual([...SERVICES].sort());
  });

  it('counts parcels dispatched and held up by incidents, one settled and one still open', async () => {
    const shipping = shippingApi(api);
    const customer = await shipping.customer(20_000);
    const product = await api.product(5, 900);
    const delayed = async () => {
      const orderId = await shipping.buy(customer.id, product.id, 1);
      expect((await api.terminal(orderId)).status).toBe('COMPLETED');
      const parcel = await shipping.of(orderId);
      expect((await shipping.dispatch(parcel.id)).status).toBeLessThan(300);
      const reported = await shipping.report(parcel.id, 'DELAYED');
      expect(reported.status, JSON.stringify(reported.body)).toBeLessThan(300);
      return (await shipping.until(parcel.id, 'an open incident', (s) => s.incidents.length > 0)) as Shipment;
    };
    const settled = await delayed();
    expect((await shipping.resolve(settled.id, settled.incidents[0]!.incidentId, 'NONE')).status).toBeLessThan(300);
    const open = await delayed();
    expect(open.status).toBe('INCIDENT');
    await waitFor(
      'Prometheus to see the incident reported and resolved',
      async () => ((await prometheusQuery('sum(jetsaga_shipment_events_total{type="IncidentResolved"})')).data?.result.length ?? 0) > 0,
      30_000,
      250,
    );
  });

  it('evaluates every dashboard and alert expression: valid, and with data after the scenario', async () => {
    await api.call('GET', '/api/orders');
    // Wait for the scenario to be in the scrapes: every outcome of the saga counted.
    await waitFor(
      'the saga outcomes to be scraped',
      async () => ((await prometheusQuery('jetsaga_saga_outcomes_total')).data?.result.length ?? 0) >= 4,
      30_000,
      250,
    );
    const expressions = [
      ...dashboardExpressions().map((e) => ({
        where: `dashboard "${e.dashboard}", panel "${e.panel}"`,
        expr: withGrafanaVariables(e.expr),
      })),
      ...ruleGroups().flatMap((group) => group.rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: alertSignal(rule.expr) }))),
    ];
    expect(expressions.length).toBeGreaterThan(30);
    const notExported: string[] = [];
    for (const name of EVENT_STORE_METRICS) {
      if (((await prometheusQuery(`count({__name__="${name}"})`)).data?.result.length ?? 0) === 0) notExported.push(name);
    }
    expect(notExported, 'event store metrics not exported').toEqual([]);
    const evaluate = async () => {
      const invalid: string[] = [];
      const empty: string[] = [];
      for (const { where, expr } of expressions) {
        const result = await prometheusQuery(expr);
        if (result.status !== 'success') invalid.push(`${where}: ${result.error} in ${expr}`);
        else if ((result.data?.result.length ?? 0) === 0) empty.push(`${where}: ${expr}`);
      }
      return { invalid, empty };
    };
    // A series appears with the first scrape after the event that creates it: give the last ones a few scrapes.
    let outcome = await evaluate();
    const deadline = Date.now() + 20_000;
    while (outcome.invalid.length === 0 && outcome.empty.length > 0 && Date.now() < deadline) outcome = await evaluate();
    expect(outcome.invalid, 'invalid PromQL').toEqual([]);
    expect(outcome.empty, 'expressions without data').toEqual([]);
  });

  it('loads every alert rule, and the dead-letter alert sees the dead letter', async () => {
    const names = ruleGroups().flatMap((group) => group.rules.map((rule) => rule.alert));
    const loaded = await waitFor(
      'the rules to be evaluated',
      async () => {
        const response = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
          data: { groups: Array<{ rules: Array<{ name: string; health: string; lastEvaluation: string }> }> };
        };
        const rules = response.data.groups.flatMap((group) => group.rules);
        return rules.every((rule) => !rule.lastEvaluation.startsWith('0001')) ? rules : undefined;
      },
      30_000,
      250,
    );
    expect(loaded.map((rule) => rule.name).sort()).toEqual([...names].sort());
    expect(loaded.filter((rule) => rule.health !== 'ok')).toEqual([]);
    await waitFor(
      'JetsagaDeadLetters to be pending for consumer inventory',
      async () => {
        const response = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
          data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
        };
        return response.data.alerts.some(
          (alert) => alert.labels.alertname === 'JetsagaDeadLetters' && alert.labels.consumer === 'inventory',
        );
      },
      30_000,
      250,
    );
  });

  it('keeps trace exemplars on handler durations, and they open real traces', async () => {
    const now = Date.now() / 1000;
    const response = (await (
      await fetch(
        `${prometheus.url}/api/v1/query_exemplars?${new URLSearchParams({
          query: 'jetsaga_event_handler_duration_seconds_bucket',
          start: String(now - 600),
          end: String(now),
        })}`,
      )
    ).json()) as { data: Array<{ exemplars: Array<{ labels: { trace_id?: string } }> }> };
    const traceIds = [
      ...new Set(response.data.flatMap((series) => series.exemplars.map((e) => e.labels.trace_id)).filter(Boolean)),
    ] as string[];
    expect(traceIds.length).toBeGreaterThan(0);
    for (const traceId of traceIds.slice(0, 3)) expect((await fetchTrace(jaeger.queryUrl, traceId)).length, traceId).toBeGreaterThan(0);
  });
});
