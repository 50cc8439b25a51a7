import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@jetsaga/devstack';
import { createEvent, uuidv7 } from '@jetsaga/events';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';

let t: TestSystem;
let api: Api;
let pauseFile: string;

async function status(): Promise<{ mirror: { position: number; streamPosition: number; lag: number } }> {
  return (await api.call('GET', '/api/event-store/status')).body;
}

async function mirrorCaughtUp(timeoutMs = 60_000): Promise<number> {
  return waitFor(
    'the mirror to catch up with the stream',
    async () => {
      const { mirror } = await status();
      return mirror.lag === 0 && mirror.position > 0 ? mirror.position : undefined;
    },
    timeoutMs,
    50,
  );
}

function note(text: string, correlationId?: string) {
  const id = uuidv7();
  return createEvent(
    'NoteAdded',
    id,
    { text, ...(correlationId ? { correlationId } : {}) },
    {
      id: uuidv7(),
      occurredAt: new Date().toISOString(),
      correlationId: correlationId ?? uuidv7(),
      causationId: 'event-store-test',
      actor: 'test',
    },
  );
}

/** Publishes straight to JetStream, as services do, as fast as the server acknowledges. */
async function publishNotes(count: number): Promise<void> {
  const js = jetstream(t.nc);
  const acks = [];
  for (let i = 0; i < count; i++) {
    const event = note(`note ${i}`);
    acks.push(js.publish(`events.annotation.${event.aggregateId}.NoteAdded`, JSON.stringify(event), { msgID: event.id }));
    if (acks.length >= 500) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
}

async function completedSaga() {
  const customer = await api.customer(100_000);
  const product = await api.product(100, 700);
  const orderId = await api.buy(customer.id, product.id, 3);
  const order = await api.terminal(orderId);
  return { customer, product, order };
}

beforeAll(async () => {
  // The mirror's fault point: a file the crash test arms (services/event-store/src/mirror/fault.ts).
  pauseFile = join(await mkdtemp(join(tmpdir(), 'jetsaga-mirror-')), 'pause');
  t = await startTestSystem({ MIRROR_FAULT_PAUSE_FILE: pauseFile });
  api = t.api;
});

afterAll(async () => {
  t?.system.supervisor.signal('event-store', 'SIGCONT');
  await t?.stop();
});

describe('the event store', () => {
  it("mirrors every event exactly once, even when killed -9 inside a batch's transaction", async () => {
    await completedSaga();
    const checkpoint = async () => Number((await t.sql.query('SELECT position FROM eventstore.mirror_checkpoint')).rows[0].position);
    await mirrorCaughtUp();
    const before = await checkpoint();
    const restartsBefore = t.system.supervisor.restarts('event-store');
    // A backlog builds while the event store is frozen; it is killed inside the transaction of a batch part-way through it.
    t.system.supervisor.signal('event-store', 'SIGSTOP');
    try {
      // More than two of the mirror's largest batches (5000 rows), so the batch it stops in is not the first.
      await publishNotes(12_000);
      await writeFile(pauseFile, `arm ${before + 7000}\n`);
    } finally {
      t.system.supervisor.signal('event-store', 'SIGCONT');
    }
    const pid = t.system.supervisor.pid('event-store');
    const [first, last] = await waitFor(
      'the mirror to stop inside a batch',
      async () => {
        const paused = /^paused (\d+)-(\d+)$/.exec((await readFile(pauseFile, 'utf8')).trim());
        return paused ? [Number(paused[1]), Number(paused[2])] : undefined;
      },
      30_000,
      5,
    );
    // Inside the transaction: it has written (its rows and the checkpoint), nothing of it is visible, batches before it are.
    const inside = await t.sql.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = 'event-store' AND state = 'idle in transaction' AND backend_xid IS NOT NULL`,
    );
    expect(inside.rows[0].n).toBeGreaterThanOrEqual(1);
    const visible = await t.sql.query('SELECT count(*)::int AS n FROM eventstore.events WHERE position BETWEEN $1 AND $2', [first, last]);
    expect(visible.rows[0].n).toBe(0);
    expect(await checkpoint()).toBe(first - 1);
    expect(first - 1).toBeGreaterThan(before);
    t.system.supervisor.signal('event-store', 'SIGKILL');
    await waitFor(
      'the event store to be restarted',
      async () => t.system.supervisor.restarts('event-store') > restartsBefore && t.system.supervisor.pid('event-store') !== pid,
    );
    const position = await mirrorCaughtUp();
    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info('EVENTS');
    expect(position).toBe(info.state.last_seq);
    const verify = (await api.call('GET', '/api/event-store/verify')).body;
    expect(verify).toMatchObject({ ok: true, missing: [], extra: [] });
    expect(verify.stream.count).toBe(info.state.messages);
    expect(verify.mirror).toEqual(verify.stream);
    const { rows } = await t.sql.query('SELECT count(*)::int AS n, count(DISTINCT position)::int AS d FROM eventstore.events');
    expect(rows[0]).toEqual({ n: info.state.messages, d: info.state.messages });
    const batch = await t.sql.query('SELECT count(*)::int AS n FROM eventstore.events WHERE position BETWEEN $1 AND $2', [first, last]);
    expect(batch.rows[0].n).toBe(last - first + 1);
  });

  it('exposes mirror and projection lag and the events mirrored by type and source', async () => {
    // Counters start again with each process (the event store was just killed): count what this saga adds.
    await completedSaga();
    await mirrorCaughtUp();
    // Notification, audit and shipping go on publishing after the saga's end: read the metrics once the lag is back to 0.
    const read = async () => (await fetch(t.system.metricsUrls['event-store'])).text();
    const lag = (body: string) => Number(/^event_store_mirror_lag_messages(?:\{[^}]*\})? (\d+)/m.exec(body)?.[1]);
    const text = await waitFor('the mirror lag metric at 0', async () => {
      const body = await read();
      return lag(body) === 0 ? body : undefined;
    });
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1]);
    expect(value(/^event_store_events_total\{event_type="OrderPlaced",source="order"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^event_store_events_total\{event_type="SaleConfirmed",source="sales"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^event_store_mirror_lag_messages(?:\{[^}]*\})? (\d+)/m)).toBe(0);
    expect(value(/^event_store_mirror_lag_seconds(?:\{[^}]*\})? (\d+)/m)).toBe(0);
    expect(text).toMatch(/^event_store_projection_lag_messages\{projection="order-summaries"[^}]*\} \d+/m);
  });

  it('replays the stream into a wiped mirror and reproduces it exactly', async () => {
    await mirrorCaughtUp();
    const before = (await api.call('GET', '/api/event-store/verify')).body;
    const started = Date.now();
    const reset = await api.call('POST', '/api/event-store/mirror/reset');
    expect(reset.status).toBe(202);
    const position = await mirrorCaughtUp();
    const seconds = (Date.now() - started) / 1000;
    console.log(`[measure] mirror catch-up: ${position} events in ${seconds.toFixed(2)} s = ${Math.round(position / seconds)} events/s`);
    const after = (await api.call('GET', '/api/event-store/verify')).body;
    expect(after.ok).toBe(true);
    expect(after.mirror).toEqual(before.mirror);
  });

  it('pages through events with an opaque cursor, exactly where the previous page stopped', async () => {
    const { order } = await completedSaga();
    await mirrorCaughtUp();
    const all = (await api.call('GET', `/api/events?correlationId=${order.correlationId}&limit=1000`)).body.events;
    expect(all.map((event: { type: string }) => event.type)).toEqual(
      expect.arrayContaining(['OrderPlaced', 'StockReserved', 'PaymentAccepted', 'SaleConfirmed', 'StockCommitted', 'OrderCompleted']),
    );
    const paged: Array<{ id: string }> = [];
    let next: string | null = null;
    do {
      const page: { status: number; body: { events: Array<{ id: string }>; next: string | null } } = await api.call(
        'GET',
        `/api/events?correlationId=${order.correlationId}&limit=2${next ? `&after=${next}` : ''}`,
      );
      expect(page.status).toBe(200);
      paged.push(...page.body.events);
      next = page.body.next;
    } while (next);
    // Events of the saga may still follow its end (its shipment, notifications), appended after `all` was read: the
    // pages give `all` first, in order, each event once.
    expect(paged.slice(0, all.length)).toEqual(all);
    expect(new Set(paged.map((event) => event.id)).size).toBe(paged.length);
    const one = all[0];
    expect((await api.call('GET', `/api/events/${one.id}`)).body).toEqual(one);
    expect(Object.keys(one).sort()).toEqual(
      [
        'actor',
        'aggregateId',
        'aggregateType',
        'causationId',
        'correlationId',
        'data',
        'id',
        'occurredAt',
        'position',
        'schemaVersion',
        'type',
      ].sort(),
    );
    const byType = (await api.call('GET', `/api/events?type=OrderCompleted&aggregateId=${order.id}`)).body.events;
    expect(byType).toHaveLength(1);
    expect((await api.call('GET', '/api/events?after=garbage')).status).toBe(400);
    expect((await api.call('GET', '/api/events?limit=0')).status).toBe(400);
  });

  it('rebuilds state by replay, up to a version or an instant', async () => {
    const { customer, product, order } = await completedSaga();
    await mirrorCaughtUp();
    const state = (await api.call('GET', `/api/aggregates/order/${order.id}/state`)).body;
    // `fulfilment` is the order service's read model of shipping's events, not order state rebuilt from order events.
    const { traceId: _ignored, fulfilment: _fulfilment, ...live } = (await api.call('GET', `/api/orders/${order.id}`)).body;
    expect(state).toEqual({ aggregateType: 'order', aggregateId: order.id, version: 2, state: live });
    const first = (await api.call('GET', `/api/aggregates/order/${order.id}/state?version=1`)).body;
    expect(first.state.status).toBe('PENDING');
    const stream = (await api.call('GET', `/api/streams/order/${order.id}`)).body;
    expect(stream.events.map((event: { version: number; type: string }) => [event.version, event.type])).toEqual([
      [1, 'OrderPlaced'],
      [2, 'OrderCompleted'],
    ]);
    const placedAt = stream.events[0].occurredAt;
    expect((await api.call('GET', `/api/aggregates/order/${order.id}/state?asOf=${placedAt}`)).body.state.status).toBe('PENDING');
    const productState = (await api.call('GET', `/api/aggregates/product/${product.id}/state`)).body.state;
    expect(productState).toEqual(await api.getProduct(product.id));
    expect((await api.call('GET', `/api/aggregates/customer/${customer.id}/state`)).body.state).toEqual(await api.getCustomer(customer.id));
    expect((await api.call('GET', `/api/aggregates/order/${order.id}/state?version=9`)).status).toBe(404);
    expect((await api.call('GET', `/api/aggregates/order/${uuidv7()}/state`)).status).toBe(404);
  });

  it('tells a saga as a timeline and as a Mermaid diagram', async () => {
    const { order } = await completedSaga();
    await mirrorCaughtUp();
    const saga = (await api.call('GET', `/api/sagas/${order.correlationId}`)).body;
    expect(saga).toMatchObject({
      correlationId: order.correlationId,
      outcome: 'COMPLETED',
      services: expect.arrayContaining(['order', 'inventory', 'payment', 'sales']),
    });
    expect(saga.durationMs).toBeGreaterThanOrEqual(0);
    // Checkout closes the cart and places the order in one transaction, under the saga's correlation id.
    expect(saga.steps.slice(0, 2)).toMatchObject([
      { type: 'CartCheckedOut', service: 'order', sinceStartMs: 0 },
      { type: 'OrderPlaced', service: 'order' },
    ]);
    const positions = saga.steps.map((step: { position: number }) => step.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    const diagram = await fetch(`${t.system.gatewayUrl}/api/sagas/${order.correlationId}?format=mermaid`, {
      headers: await t.api.authHeaders(),
    });
    expect(diagram.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await diagram.text();
    expect(text.startsWith('sequenceDiagram')).toBe(true);
    expect(text).toContain('order->>inventory: StockReserved');
  });

  it('of two appends racing from one version, exactly one wins, every time', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 15; i++) {
      const id = uuidv7();
      const append = (expectedVersion: number, text: string) =>
        api.call('POST', `/api/streams/annotation/${id}/events`, { expectedVersion, events: [{ type: 'NoteAdded', data: { text } }] });
      expect((await append(0, 'first')).status).toBe(201);
      const race = await Promise.all([append(1, 'left'), append(1, 'right')]);
      outcomes.push(
        race
          .map((response) => response.status)
          .sort()
          .join(','),
      );
    }
    expect(new Set(outcomes)).toEqual(new Set(['201,409']));
  });

  it('appends with optimistic concurrency: of two appends from one version exactly one wins', async () => {
    const noteId = uuidv7();
    const first = await api.call('POST', `/api/streams/annotation/${noteId}/events`, {
      expectedVersion: 0,
      events: [{ type: 'NoteAdded', data: { text: 'first' } }],
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ version: 1, positions: [expect.any(Number)] });
    const race = await Promise.all(
      ['left', 'right'].map((text) =>
        api.call('POST', `/api/streams/annotation/${noteId}/events`, {
          expectedVersion: 1,
          events: [{ type: 'NoteAdded', data: { text } }],
        }),
      ),
    );
    expect(race.map((response) => response.status).sort()).toEqual([201, 409]);
    expect(race.find((response) => response.status === 409)?.headers.get('content-type')).toBe('application/problem+json');
    const batch = await api.call('POST', `/api/streams/annotation/${noteId}/events`, {
      expectedVersion: 2,
      events: [
        { type: 'NoteAdded', data: { text: 'a' } },
        { type: 'NoteAdded', data: { text: 'b' } },
        { type: 'NoteAdded', data: { text: 'c' } },
      ],
    });
    expect(batch.status).toBe(201);
    expect(batch.body.version).toBe(5);
    expect(batch.body.positions).toHaveLength(3);
    const stale = await api.call('POST', `/api/streams/annotation/${noteId}/events`, {
      expectedVersion: 2,
      events: [{ type: 'NoteAdded', data: { text: 'late' } }],
    });
    expect(stale.status).toBe(409);
    await waitFor(
      'the appended events in the mirror',
      async () => (await api.call('GET', `/api/streams/annotation/${noteId}`)).body?.version === 5,
    );
    expect(
      (
        await api.call('POST', `/api/streams/order/${uuidv7()}/events`, {
          expectedVersion: 0,
          events: [{ type: 'OrderCompleted', data: {} }],
        })
      ).status,
    ).toBe(403);
    const invalid = await api.call('POST', `/api/streams/annotation/${uuidv7()}/events`, {
      expectedVersion: 0,
      events: [{ type: 'NoteAdded', data: { text: '' } }],
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors[0].field).toBe('events.0.data.text');
  });

  it('attaches an operator note to a saga', async () => {
    const { order } = await completedSaga();
    const appended = await api.call('POST', `/api/streams/annotation/${uuidv7()}/events`, {
      expectedVersion: 0,
      events: [{ type: 'NoteAdded', data: { text: 'customer called about this order', correlationId: order.correlationId } }],
    });
    expect(appended.status).toBe(201);
    await mirrorCaughtUp();
    const saga = (await api.call('GET', `/api/sagas/${order.correlationId}`)).body;
    expect(saga.steps.map((step: { type: string }) => step.type)).toContain('NoteAdded');
  });

  it('reads a v1 event as v2 (upcasting) in state rebuild and projections', async () => {
    const orderId = uuidv7();
    const customerId = uuidv7();
    const v1 = {
      id: uuidv7(),
      type: 'OrderPlaced',
      schemaVersion: 1,
      aggregateType: 'order',
      aggregateId: orderId,
      occurredAt: new Date().toISOString(),
      correlationId: uuidv7(),
      causationId: 'legacy-import',
      actor: 'legacy',
      data: { orderId, cartId: uuidv7(), customerId, lines: [{ productId: uuidv7(), quantity: 1, priceCents: 100 }], totalCents: 100 },
    };
    await jetstream(t.nc).publish(`events.order.${orderId}.OrderPlaced`, JSON.stringify(v1), { msgID: v1.id });
    await mirrorCaughtUp();
    const stored = (await api.call('GET', `/api/events/${v1.id}`)).body;
    expect(stored.schemaVersion).toBe(1);
    expect((await api.call('GET', `/api/aggregates/order/${orderId}/state`)).body.state).toMatchObject({
      id: orderId,
      status: 'PENDING',
      totalCents: 100,
    });
    const listed = await waitFor('the order summary of the v1 event', async () => {
      const body = (await api.call('GET', `/api/orders?customerId=${customerId}`)).body;
      return body.orders.length === 1 ? body.orders[0] : undefined;
    });
    expect(listed).toMatchObject({ id: orderId, status: 'PENDING', totalCents: 100 });
  });

  it('rebuilds a projection blue-green: same rows, and reads keep answering during the rebuild', async () => {
    await completedSaga();
    await mirrorCaughtUp();
    const projectionsCaughtUp = () =>
      waitFor('projections to catch up', async () => {
        const { projections } = (await api.call('GET', '/api/projections')).body;
        return projections.every((p: { lag: number }) => p.lag === 0) ? projections : undefined;
      });
    const before = await projectionsCaughtUp();
    const live = before.find((p: { name: string; state: string }) => p.name === 'order-summaries' && p.state === 'LIVE');
    const checksum = (await api.call('GET', '/api/projections/order-summaries/checksum')).body;
    expect(checksum.rows).toBeGreaterThan(0);

    const rebuild = await api.call('POST', '/api/projections/order-summaries/rebuild');
    expect(rebuild.status).toBe(202);
    expect(rebuild.body).toMatchObject({ name: 'order-summaries', version: live.version + 1, state: 'BUILDING' });
    // The same version asked for again is refused, whether it is still building or already live (a small store
    // rebuilds in milliseconds, so which of the two it meets is not up to the test).
    const again = await api.call('POST', '/api/projections/order-summaries/rebuild', { version: live.version + 1 });
    expect(again.status).toBe(409);
    const reads: number[] = [];
    const rebuilt = await waitFor('the new version to go live', async () => {
      reads.push((await api.call('GET', '/api/orders?limit=5')).status);
      const { projections } = (await api.call('GET', '/api/projections')).body;
      return projections.find(
        (p: { name: string; state: string; version: number }) =>
          p.name === 'order-summaries' && p.state === 'LIVE' && p.version === live.version + 1,
      );
    });
    expect(reads.length).toBeGreaterThan(0);
    expect(new Set(reads)).toEqual(new Set([200]));
    const after = (await api.call('GET', '/api/projections/order-summaries/checksum')).body;
    expect(after.version).toBe(rebuilt.version);
    expect({ rows: after.rows, checksum: after.checksum }).toEqual({ rows: checksum.rows, checksum: checksum.checksum });
  });

  it('serves the read models: orders by status and customer, sales per product and day, stock levels', async () => {
    const { customer, product, order } = await completedSaga();
    await mirrorCaughtUp();
    const orders = await waitFor('the order in the read model', async () => {
      const body = (await api.call('GET', `/api/orders?customerId=${customer.id}&status=COMPLETED`)).body;
      return body.orders.length === 1 ? body.orders : undefined;
    });
    expect(orders[0]).toMatchObject({ id: order.id, status: 'COMPLETED', totalCents: 2100, correlationId: order.correlationId });
    const today = new Date().toISOString().slice(0, 10);
    // Projections follow the mirror: wait for this saga to reach each read model.
    const sales = await waitFor('the sale in the sales report', async () => {
      const body = (await api.call('GET', `/api/reports/sales?from=${today}&to=${today}`)).body;
      return body.days.some((row: { productId: string }) => row.productId === product.id) ? body : undefined;
    });
    expect(sales.days).toEqual(
      expect.arrayContaining([expect.objectContaining({ day: today, productId: product.id, quantity: 3, revenueCents: 2100 })]),
    );
    const stock = await waitFor('the committed stock in the stock report', async () => {
      const row = (await api.call('GET', '/api/reports/stock')).body.products.find(
        (p: { productId: string; sold: number }) => p.productId === product.id,
      );
      return row?.sold === 3 ? row : undefined;
    });
    expect(stock).toMatchObject({ available: 97, reserved: 0, sold: 3 });
    expect((await api.call('GET', '/api/orders?status=LOST')).status).toBe(400);
  });
});
