import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureJaeger, type JaegerServer, startJaeger, waitFor } from '@jetsaga/devstack';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchBrowser, screenshot } from './support/browser.js';
import { ConsoleUser } from './support/console.js';
import { startTestSystem, type TestSystem } from './support/harness.js';

/**
 * The console's trace view (issue 20) in a real Chromium, against a real Jaeger v2 holding the system's spans: a saga's
 * page draws its trace as a span waterfall beside the business timeline. What the waterfall must show is derived from
 * the saga itself: its events (who published each, what caused it) and the spans the trace API answers.
 */

let work: string;
let jaeger: JaegerServer;
let t: TestSystem;
let browser: Browser;
let user: ConsoleUser;
const say = (message: string) => console.log(`[console-trace] ${message}`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'jetsaga-console-trace-'));
  jaeger = await startJaeger({ bin: await ensureJaeger(say), dir: join(work, 'jaeger') });
  t = await startTestSystem({
    GATEWAY_DEV_TOKEN_URL: inject('authTokenUrl'),
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    TRACE_BACKEND: 'jaeger',
    TRACE_QUERY_URL: jaeger.queryUrl,
    // The consumers' "message processed" lines are debug: written inside their spans, they are the spans' log events.
    LOG_LEVEL: 'debug',
  });
  browser = await launchBrowser();
  user = new ConsoleUser(browser, t.system.gatewayUrl, say);
  say(`chromium ${browser.version()}, console at ${t.system.gatewayUrl}/, jaeger query API at ${jaeger.queryUrl}`);
});

afterAll(async () => {
  await user?.close();
  await browser?.close();
  await t?.stop();
  await jaeger?.stop();
});

type Step = { type: string; service: string; aggregateType: string };
type Locator = ReturnType<ConsoleUser['page']['locator']>;
type SagaEvent = { id: string; type: string; aggregateType: string; causationId: string };
type Span = {
  spanId: string;
  parentSpanId: string | null;
  service: string;
  name: string;
  kind: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
};
type Row = { spanId: string; parentId: string; service: string; kind: string; name: string; hopFrom: string | null };

const sendName = (step: Step) => `send events.${step.aggregateType}.*.${step.type}`;
const processName = (step: Step) => `process events.${step.aggregateType}.*.${step.type}`;

/**
 * The saga as the event store tells it: its steps (type, the service that published it) and its events' causes, once
 * the saga-timelines read model has caught up with the events.
 */
/** The saga once it has ended and its timeline holds every event of it (and `steps`, which may follow its end). */
function sagaOf(correlationId: string, steps: readonly string[] = []) {
  return waitFor(`saga ${correlationId} in the event store`, async () => {
    const saga = (await t.api.call<{ outcome: string; services: string[]; steps: Step[] }>('GET', `/api/sagas/${correlationId}`)).body;
    const { events } = (await t.api.call<{ events: SagaEvent[] }>('GET', `/api/events?correlationId=${correlationId}&limit=200`)).body;
    const complete = steps.every((type) => saga.steps.some((step) => step.type === type));
    return complete && saga.steps.length === events.length && saga.outcome !== 'PENDING' ? { ...saga, events } : undefined;
  });
}

/**
 * The saga's trace once Jaeger has every hop: for each step, the span that published it and a span of another service
 * that processed it, and no span waiting for its parent (spans are exported in batches, a moment after they end).
 */
function completeTrace(correlationId: string, steps: Step[]): Promise<Span[]> {
  return waitFor(
    `the trace of saga ${correlationId} to hold every hop`,
    async () => {
      const response = await t.api.call<{ spans: Span[] }>('GET', `/api/sagas/${correlationId}/trace`);
      if (response.status !== 200) return undefined;
      const { spans } = response.body;
      const byId = new Map(spans.map((span) => [span.spanId, span]));
      const parentsThere = spans.every((span) => span.parentSpanId === null || span.service === 'gateway' || byId.has(span.parentSpanId));
      const everyHop = steps.every((step) =>
        spans.some(
          (send) =>
            send.name === sendName(step) &&
            send.service === step.service &&
            spans.some((process) => process.parentSpanId === send.spanId && process.service !== send.service),
        ),
      );
      return parentsThere && everyHop ? spans : undefined;
    },
    30_000,
    200,
  );
}

/**
 * The trace the page received (its own request to the trace API): what the waterfall must show. Spans that arrive
 * later (an email sent after the saga ended) are in the next answer, not on this page.
 */
async function traceAsThePageGotIt(correlationId: string): Promise<Span[]> {
  const response = await user.page.waitForResponse(
    (candidate) => new URL(candidate.url()).pathname === `/api/sagas/${correlationId}/trace` && candidate.status() === 200,
  );
  return ((await response.json()) as { spans: Span[] }).spans;
}

/** The waterfall's rows as the page shows them, top to bottom. */
function rowsOnPage(): Promise<Row[]> {
  return user.page
    .getByTestId('waterfall')
    .locator('ol.spans > li')
    .evaluateAll((items) =>
      items.map((item) => ({
        spanId: item.getAttribute('data-span-id')!,
        parentId: item.getAttribute('data-parent-id')!,
        service: item.getAttribute('data-service')!,
        kind: item.getAttribute('data-kind')!,
        name: item.getAttribute('data-span')!,
        hopFrom: item.getAttribute('data-hop-from'),
      })),
    );
}

/** Every hop of the saga is on the page, in causal order. */
function expectEveryHopInCausalOrder(rows: Row[], saga: Awaited<ReturnType<typeof sagaOf>>, spans: Span[]) {
  const index = new Map(rows.map((row, at) => [row.spanId, at]));
  // Causal order: a span comes after the span that caused it.
  for (const [at, row] of rows.entries()) {
    const parent = index.get(row.parentId);
    if (parent !== undefined) expect(parent, `${row.service} ${row.name} after its parent`).toBeLessThan(at);
  }
  // Each event: published by the service that owns its aggregate, then processed by another service, the hop marked
  // with where it came from.
  const serviceOf = new Map(saga.steps.map((step) => [`${step.aggregateType}/${step.type}`, step.service]));
  const sendRowOf = new Map<string, number>();
  for (const event of saga.events) {
    const step = { ...event, service: serviceOf.get(`${event.aggregateType}/${event.type}`)! };
    const send = rows.findIndex((row) => row.name === sendName(step) && row.service === step.service && row.kind === 'PRODUCER');
    expect(send, `${step.type} published by ${step.service}`).toBeGreaterThanOrEqual(0);
    sendRowOf.set(event.id, send);
    const receivers = spans.filter((span) => span.parentSpanId === rows[send]!.spanId && span.service !== step.service);
    expect(receivers.length, `${step.type} processed by another service`).toBeGreaterThan(0);
    for (const receiver of receivers) {
      const at = index.get(receiver.spanId);
      expect(at, `${receiver.service} ${processName(step)} on the page`).toBeDefined();
      expect(rows[at!]).toMatchObject({ name: processName(step), service: receiver.service, kind: 'CONSUMER', hopFrom: step.service });
      expect(at!).toBeGreaterThan(send);
    }
  }
  // Across events: an event's publication comes after the publication of the event that caused it.
  for (const event of saga.events) {
    const cause = sendRowOf.get(event.causationId);
    if (cause !== undefined) expect(cause, `${event.type} after its cause`).toBeLessThan(sendRowOf.get(event.id)!);
  }
  // The first events were caused by a request (no event of the saga): their publication hangs under the gateway's spans.
  const byId = new Map(rows.map((row) => [row.spanId, row]));
  for (const event of saga.events.filter((candidate) => !sendRowOf.has(candidate.causationId))) {
    const services: string[] = [];
    for (let row = byId.get(rows[sendRowOf.get(event.id)!]!.parentId); row; row = byId.get(row.parentId)) services.push(row.service);
    expect(services, `what ${event.type} hangs under`).toContain('gateway');
  }
}

/** The attributes a span's detail lists, as text. */
function attributesShown(table: Locator): Promise<Record<string, string>> {
  return table
    .locator('tr')
    .evaluateAll((trs) =>
      Object.fromEntries(trs.map((tr) => [tr.querySelector('th')?.textContent ?? '', tr.querySelector('td')?.textContent ?? ''])),
    );
}

const asText = (attributes: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));

describe("a saga's trace in the console", () => {
  it('a completed saga: every hop in causal order beside the timeline, a span opened shows its attributes and log lines', async () => {
    const customer = await t.api.customer(10_000);
    const product = await t.api.product(10, 1_500);
    const order = await t.api.terminal(await t.api.buy(customer.id, product.id, 1));
    expect(order.status).toBe('COMPLETED');
    const saga = await sagaOf(order.correlationId);
    await completeTrace(order.correlationId, saga.steps);
    const page = await user.signInAs('agent', undefined, { width: 1600, height: 1000 });
    const traced = traceAsThePageGotIt(order.correlationId);

    // From the Sagas section, the saga's trace link opens its page at the waterfall.
    await page.goto('/ops/sagas?outcome=COMPLETED');
    await page.getByRole('link', { name: `waterfall of saga ${order.correlationId.slice(0, 8)}` }).click();
    await page.getByRole('heading', { name: `Saga ${order.correlationId}` }).waitFor();
    const waterfall = page.getByTestId('waterfall');
    await waterfall.waitFor();
    const spans = await traced;
    expect(new URL(page.url()).hash).toBe('#trace');
    // Beside the business timeline: both on the page, the lanes are the saga's services (and the gateway).
    await page.locator('.timeline [data-type="OrderCompleted"]').waitFor();
    const lanes = await waterfall.getByRole('list', { name: 'Services' }).locator('li').allTextContents();
    for (const service of saga.services) expect(lanes).toContain(service);
    expect(lanes).toContain('gateway');

    const rows = await rowsOnPage();
    expectEveryHopInCausalOrder(rows, saga, spans);
    // Database queries are hidden until asked for, then listed too.
    const queries = spans.filter((span) => span.kind === 'CLIENT' && span.name.startsWith('pg.')).length;
    expect(queries).toBeGreaterThan(0);
    expect(rows).toHaveLength(spans.length - queries);
    await waterfall.getByLabel(`show the ${queries} database queries`).check();
    await expect.poll(async () => (await rowsOnPage()).length).toBe(spans.length);
    await waterfall.getByLabel(`show the ${queries} database queries`).uncheck();

    // A span opened: its attributes as the trace holds them, and the log lines written inside it under it.
    const logged = spans.find((span) => span.kind === 'CONSUMER' && span.events.some((event) => event.name === 'log'))!;
    expect(logged).toBeDefined();
    const row = waterfall.locator(`li[data-span-id="${logged.spanId}"]`);
    for (const log of logged.events.filter((event) => event.name === 'log'))
      await row
        .getByRole('list', { name: `log lines of ${logged.name}` })
        .getByText(String(log.attributes.msg))
        .first()
        .waitFor();
    await row.getByRole('button').first().click();
    const detail = row.getByTestId('span-detail');
    await detail.waitFor();
    expect(await attributesShown(detail.getByRole('table', { name: `Attributes of ${logged.name}` }))).toEqual(asText(logged.attributes));
    await user.expectAccessible('saga trace');
  });

  it('a PAYMENT_REFUSED saga: its compensations on the timeline and every hop of them in the waterfall', async () => {
    const customer = await t.api.customer(100);
    const product = await t.api.product(5, 2_500);
    const order = await t.api.terminal(await t.api.buy(customer.id, product.id, 1));
    expect(order.reason).toBe('PAYMENT_REFUSED');
    // The stock's release may follow the order's cancellation: wait for the compensation, then check the timeline holds it.
    const saga = await sagaOf(order.correlationId, ['StockReleased']);
    expect(saga.steps.map((step) => step.type)).toEqual(expect.arrayContaining(['PaymentRefused', 'StockReleased', 'OrderCancelled']));
    await completeTrace(order.correlationId, saga.steps);
    const page = await user.signInAs('agent', undefined, { width: 1600, height: 1000 });
    const traced = traceAsThePageGotIt(order.correlationId);
    await page.goto(`/ops/sagas/${order.correlationId}`);
    const waterfall = page.getByTestId('waterfall');
    await waterfall.waitFor();
    const spans = await traced;
    await page.locator('.timeline [data-type="StockReleased"] .step.compensation').waitFor();
    const rows = await rowsOnPage();
    expectEveryHopInCausalOrder(rows, saga, spans);

    // The refusal as payment published it, opened: the span's messaging attributes name the event.
    const refused = saga.steps.find((step) => step.type === 'PaymentRefused')!;
    const send = spans.find((span) => span.name === sendName(refused) && span.service === refused.service)!;
    const row = waterfall.locator(`li[data-span-id="${send.spanId}"]`);
    await row.getByRole('button').first().click();
    const detail = row.getByTestId('span-detail');
    await detail.waitFor();
    expect(await attributesShown(detail.getByRole('table', { name: `Attributes of ${send.name}` }))).toEqual(asText(send.attributes));
    expect(send.attributes['messaging.destination.name'] ?? send.name).toMatch(/PaymentRefused/);
    await page.getByTestId('mermaid').locator('svg').waitFor({ timeout: 20_000 });
    await user.expectAccessible('compensated saga trace');
    await screenshot(page, 'trace');
  });
});
