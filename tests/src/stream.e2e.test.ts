import { waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { expectProblem } from './support/problems.js';
import { SseClient } from './support/sse.js';

/**
 * The live event stream (GET /api/stream/events, docs/adr/0054-live-event-stream.md) against the running system:
 * a real nats-server behind the gateway, one shared ordered consumer (the live tail) for every client that follows
 * live, and a short-lived one of its own for a client that catches up.
 */
let t: TestSystem;
let api: Api;
const MAX_STREAMS_PER_PRINCIPAL = 4;
const clients: SseClient[] = [];

beforeAll(async () => {
  t = await startTestSystem({ GATEWAY_SSE_MAX_STREAMS_PER_PRINCIPAL: String(MAX_STREAMS_PER_PRINCIPAL) });
  api = t.api;
});

// Each test's streams close after it: the admin's count towards the cap of one principal too.
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await t?.stop();
});

async function open(query: string, headers: Record<string, string> = {}, as: Api = api): Promise<SseClient> {
  const client = await SseClient.open(`${t.system.gatewayUrl}/api/stream/events${query}`, { ...(await as.authHeaders()), ...headers });
  clients.push(client);
  return client;
}

type Step = { position: number; type: string; aggregateType: string; aggregateId: string };

/** A completed saga: its order, its correlation id, and its steps (stream sequence and type) once the event store has them all. */
async function completedSaga(as: Api = api) {
  const customer = await api.customer(10_000);
  const product = await api.product(10, 1_000);
  const order = await api.terminal(await as.buy(customer.id, product.id, 1));
  expect(order.status).toBe('COMPLETED');
  return { customerId: customer.id, order };
}

async function stepsOf(correlationId: string): Promise<Step[]> {
  return (await api.ok<{ steps: Step[] }>('GET', `/api/sagas/${correlationId}`)).steps;
}

/** The ordered consumers the gateway holds on EVENTS now (their names start with `sse_`). */
async function gatewayConsumers(): Promise<string[]> {
  const jsm = await jetstreamManager(t.nc);
  const names: string[] = [];
  for await (const info of jsm.consumers.list(EVENTS_STREAM)) if (info.name.startsWith('sse_')) names.push(info.name);
  return names;
}

/** Waits until the stream's frames of this saga are exactly its steps as the event store has them (both settle). */
async function framesMatchSteps(client: SseClient, correlationId: string) {
  return waitFor(
    `the stream to carry every step of saga ${correlationId}`,
    async () => {
      const steps = await stepsOf(correlationId);
      const frames = client.envelopes((envelope) => envelope.correlationId === correlationId);
      const same = frames.map((f) => Number(f.id)).join() === steps.map((s) => s.position).join();
      return same && steps.length > 0 ? { steps, frames } : undefined;
    },
    30_000,
    100,
  );
}

describe('the live event stream', () => {
  it("delivers a saga's events as they happen, in stream order, each with its stream sequence and type", async () => {
    const live = await open('');
    expect(live.response.status).toBe(200);
    expect(live.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // The stream is open when its first comment arrived: only events from then on.
    await live.until('the opening comment', (c) => c.comments > 0);
    const { order } = await completedSaga();
    const { steps, frames } = await framesMatchSteps(live, order.correlationId);
    expect(frames.map((f) => f.event)).toEqual(steps.map((s) => s.type));
    expect(frames.map((f) => f.envelope.type)).toEqual(steps.map((s) => s.type));
    const ids = live.envelopes().map((f) => Number(f.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(frames.map((f) => f.event)).toEqual(expect.arrayContaining(['OrderPlaced', 'OrderCompleted']));
  });

  it('resumes after Last-Event-ID (or ?after=) with exactly the events missed: no gap, no duplicate', async () => {
    const { order } = await completedSaga();
    const whole = await open(`?correlationId=${order.correlationId}&from=start`);
    const { frames: all } = await framesMatchSteps(whole, order.correlationId);
    expect(all.length).toBeGreaterThan(3);
    whole.close();
    const seen = all.slice(0, 3);
    const resumed = await open(`?correlationId=${order.correlationId}`, { 'last-event-id': seen[2]!.id });
    const rest = await resumed.until('the missed events', (c) => (c.envelopes().length >= all.length - 3 ? c.envelopes() : undefined));
    expect([...seen, ...rest].map((f) => f.id)).toEqual(all.map((f) => f.id));
    const byQuery = await open(`?correlationId=${order.correlationId}&after=${seen[0]!.id}`);
    const fromQuery = await byQuery.until('the events after the first', (c) =>
      c.envelopes().length >= all.length - 1 ? c.envelopes() : undefined,
    );
    expect(fromQuery.map((f) => f.id)).toEqual(all.slice(1).map((f) => f.id));
    // The header wins over the query, as a reconnecting EventSource sends it.
    const both = await open(`?correlationId=${order.correlationId}&after=${seen[0]!.id}`, { 'last-event-id': all[all.length - 2]!.id });
    const last = await both.until('the last event', (c) => (c.envelopes().length >= 1 ? c.envelopes() : undefined));
    expect(last.map((f) => f.id)).toEqual([all[all.length - 1]!.id]);
  });

  it('filters by type, aggregate and correlation id, and refuses filters it cannot apply', async () => {
    const { order } = await completedSaga();
    const { steps } = await framesMatchSteps(await open(`?correlationId=${order.correlationId}&from=start`), order.correlationId);
    const byType = await open(`?type=OrderPlaced,OrderCompleted&correlationId=${order.correlationId}&from=start`);
    const typed = await byType.until('two events', (c) => (c.envelopes().length >= 2 ? c.envelopes() : undefined));
    expect(typed.map((f) => f.event)).toEqual(['OrderPlaced', 'OrderCompleted']);
    const byAggregate = await open(`?aggregateType=order&aggregateId=${order.id}&from=start`);
    const ofOrder = steps.filter((s) => s.aggregateType === 'order' && s.aggregateId === order.id);
    const aggregated = await byAggregate.until('the order aggregate', (c) =>
      c.envelopes().length >= ofOrder.length ? c.envelopes() : undefined,
    );
    expect(aggregated.map((f) => Number(f.id))).toEqual(ofOrder.map((s) => s.position));
    expect(aggregated.every((f) => f.envelope.aggregateType === 'order' && f.envelope.aggregateId === order.id)).toBe(true);

    expectProblem(await api.call('GET', '/api/stream/events?type=NoSuchEvent'), 400, 'type');
    expectProblem(await api.call('GET', '/api/stream/events?aggregateType=order.*'), 400, 'aggregateType');
    expectProblem(await api.call('GET', '/api/stream/events?after=-1'), 400, 'after');
    expectProblem(await api.call('GET', '/api/stream/events?unknown=1'), 400, 'unknown');
  });

  it("lets a customer follow their own saga only: 403 for another's and without a correlation id", async () => {
    const customer = await api.customer(10_000);
    const product = await api.product(10, 1_000);
    const owner = api.as('customer', customer.id);
    const order = await api.terminal(await owner.buy(customer.id, product.id, 1));
    const own = await open(`?correlationId=${order.correlationId}&from=start`, {}, owner);
    expect(own.response.status).toBe(200);
    await own.until('the owner sees the saga', (c) => c.envelopes().some((f) => f.event === 'OrderCompleted'));
    expect(own.envelopes().every((f) => f.envelope.correlationId === order.correlationId)).toBe(true);

    const stranger = api.as('customer', (await api.customer(10_000)).id);
    expectProblem(await stranger.call('GET', `/api/stream/events?correlationId=${order.correlationId}`), 403);
    expectProblem(await owner.call('GET', '/api/stream/events'), 403);
    expectProblem(await api.withToken(null).call('GET', '/api/stream/events'), 401);
    // An agent follows anything.
    expect((await open(`?correlationId=${order.correlationId}&from=start`, {}, api.as('agent', 'agent-1'))).response.status).toBe(200);
  });

  it("lets a customer follow their own parcel by its aggregate (an agent's dispatch is a correlation of its own): 403 for another's", async () => {
    const customer = await api.customer(10_000);
    const product = await api.product(10, 1_000);
    const owner = api.as('customer', customer.id);
    const order = await api.terminal(await owner.buy(customer.id, product.id, 1));
    const parcel = await waitFor('the parcel of the order', async () => {
      const { body } = await api.call<{ shipments: { id: string }[] }>('GET', `/api/shipments?orderId=${order.id}`);
      return body.shipments[0];
    });
    const own = await open(`?aggregateType=shipment&aggregateId=${parcel.id}&from=start`, {}, owner);
    expect(own.response.status).toBe(200);
    await own.until('the owner sees the parcel created', (c) => c.envelopes().some((f) => f.event === 'ShipmentCreated'));
    expect(own.envelopes().every((f) => f.envelope.aggregateType === 'shipment' && f.envelope.aggregateId === parcel.id)).toBe(true);

    const stranger = api.as('customer', (await api.customer(10_000)).id);
    expectProblem(await stranger.call('GET', `/api/stream/events?aggregateType=shipment&aggregateId=${parcel.id}`), 403);
    // A parcel is named by its aggregate type and id: any other aggregate, or none, is still refused.
    expectProblem(await owner.call('GET', `/api/stream/events?aggregateType=order&aggregateId=${order.id}`), 403);
    expectProblem(await owner.call('GET', '/api/stream/events?aggregateType=shipment'), 403);
  });

  it('serves every open stream from one consumer on EVENTS, frees it with the last client, and caps the streams of one principal (429)', async () => {
    // Streams of earlier tests may still be closing.
    await waitFor('earlier streams to close', async () => (await gatewayConsumers()).length === 0, 30_000, 100);
    const agent = api.as('agent', `agent-${Date.now()}`);
    const held: SseClient[] = [];
    for (let i = 0; i < MAX_STREAMS_PER_PRINCIPAL; i++) held.push(await open('', {}, agent));
    expect(held.every((client) => client.response.status === 200)).toBe(true);
    // Filtered or not, live streams share the gateway's one live tail: one consumer on the server, not one each.
    const filtered = await open(`?type=OrderCompleted`, {}, api.as('agent', `filtered-${Date.now()}`));
    expect(filtered.response.status).toBe(200);
    const consumers = await gatewayConsumers();
    expect(consumers).toHaveLength(1);
    expect(consumers[0]).toMatch(/^sse_tail_/);
    const { order } = await completedSaga();
    // Each stream carries every step of the saga, once, in order; the filtered one its completion alone.
    for (const client of held) await framesMatchSteps(client, order.correlationId);
    await filtered.until('the completion', (c) => c.envelopes().some((f) => f.envelope.correlationId === order.correlationId));
    expect(filtered.envelopes().every((f) => f.event === 'OrderCompleted')).toBe(true);
    filtered.close();

    const refused = await agent.call('GET', '/api/stream/events');
    expectProblem(refused, 429, 'stream');
    // Another principal is not held back by this one's streams.
    const other = await open('', {}, api.as('agent', `other-${Date.now()}`));
    expect(other.response.status).toBe(200);
    other.close();

    for (const client of held) client.close();
    await waitFor('the live tail deleted with its last client', async () => (await gatewayConsumers()).length === 0, 10_000, 50);
    const again = await open('', {}, agent);
    expect(again.response.status).toBe(200);
    expect(await gatewayConsumers()).toHaveLength(1);
    again.close();
    await waitFor('the last consumer deleted', async () => (await gatewayConsumers()).length === 0, 10_000, 50);
  });

  it('is documented as text/event-stream in the published API', async () => {
    const document = (await (await fetch(`${t.system.gatewayUrl}/openapi.json`)).json()) as any;
    const operation = document.paths['/api/stream/events']?.get;
    expect(operation?.['x-service']).toBe('gateway');
    expect(Object.keys(operation.responses['200'].content)).toEqual(['text/event-stream']);
    expect(operation['x-roles']).toEqual(['customer', 'agent', 'admin']);
  });
});
