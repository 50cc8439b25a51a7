import { waitFor } from '@jetsaga/devstack';
import { eventSubject, uuidv7 } from '@jetsaga/events';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api, ApiResponse } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { changeCount, quietChangeCount, expectProblem } from './support/problems.js';

/**
 * Roles and ownership through the gateway, with real tokens of the suite's issuer (ADR 0042): a customer reaches only
 * their own records, an agent the operations views, an admin everything; a refused request changes nothing.
 */

let t: TestSystem;
let admin: Api;
let agent: Api;
let alice: Api;
let bob: Api;
let ids: { alice: string; bob: string; product: string; aliceCart: string; bobCart: string; aliceOrder: string; bobOrder: string };

type Event = { type: string; actor: string; correlationId: string; aggregateId: string };

async function eventsWhere(query: string): Promise<Event[]> {
  return (await admin.ok<{ events: Event[] }>('GET', `/api/events?${query}&limit=1000`)).events;
}

/** The dead letters there are now, as an admin sees them. */
async function deadLetters(): Promise<Array<{ id: string }>> {
  return (await admin.ok<{ messages: Array<{ id: string }> }>('GET', '/api/dlq?limit=500')).messages;
}

/** What an operations write could change: the services' rows and outboxes, the projections, the mirror, the DLQ. */
async function snapshot() {
  const projections = (await admin.ok<{ projections: Array<{ name: string; version: number; state: string }> }>('GET', '/api/projections'))
    .projections;
  return {
    rows: await quietChangeCount(t),
    projections: projections.map(({ name, version, state }) => `${name}@${version}:${state}`).sort(),
    letters: (await deadLetters()).map((letter) => letter.id),
  };
}

function expectRefused(response: ApiResponse, status = 403) {
  expectProblem(response, status);
}

beforeAll(async () => {
  t = await startTestSystem();
  admin = t.api;
  agent = admin.as('agent', 'agent-1');
  const [a, b] = [await admin.customer(100_000, 'Alice'), await admin.customer(100_000, 'Bob')];
  alice = admin.as('customer', a.id);
  bob = admin.as('customer', b.id);
  const product = await admin.product(100, 250);
  const aliceCart = (await alice.cart(a.id)).id;
  await alice.addItem(aliceCart, product.id, 1);
  const bobCart = (await bob.cart(b.id)).id;
  await bob.addItem(bobCart, product.id, 2);
  const aliceOrder = await alice.checkout(aliceCart);
  const bobOrder = await bob.checkout(bobCart);
  ids = { alice: a.id, bob: b.id, product: product.id, aliceCart, bobCart, aliceOrder, bobOrder };
  await alice.terminal(aliceOrder);
  await bob.terminal(bobOrder);
  // A dead letter for the DLQ cases: poison for payment's consumer.
  await jetstream(t.nc).publish(eventSubject('reservation', uuidv7(), 'StockReserved'), '{"poison": ');
  await waitFor('a dead letter', async () => ((await deadLetters()).length > 0 ? true : undefined));
});

afterAll(async () => {
  await t?.stop();
});

describe('a customer', () => {
  it("reads their own customer record, cart and order, and gets 403 problem+json for another customer's", async () => {
    expect((await alice.call('GET', `/api/customers/${ids.alice}`)).status).toBe(200);
    expect((await alice.call('GET', `/api/carts/${ids.aliceCart}`)).status).toBe(200);
    expect((await alice.call('GET', `/api/orders/${ids.aliceOrder}`)).body).toMatchObject({ customerId: ids.alice });
    expectRefused(await alice.call('GET', `/api/customers/${ids.bob}`));
    expectRefused(await alice.call('GET', `/api/carts/${ids.bobCart}`));
    expectRefused(await alice.call('GET', `/api/orders/${ids.bobOrder}`));
    // Existence is not hidden from a holder of the id, but nothing is read that does not exist either.
    expectRefused(await alice.call('GET', `/api/orders/${uuidv7()}`), 404);
  });

  it("cannot open, fill or check out another customer's cart, and nothing changes", async () => {
    const before = await quietChangeCount(t);
    const bobOpen = (await bob.cart(ids.bob)).id;
    const afterSetUp = await changeCount(t.sql);
    expect(afterSetUp).toBeGreaterThan(before);
    expectRefused(await alice.call('POST', '/api/carts', { customerId: ids.bob }));
    expectRefused(await alice.call('POST', `/api/carts/${bobOpen}/items`, { productId: ids.product, quantity: 1 }));
    expectRefused(await alice.call('POST', `/api/carts/${bobOpen}/checkout`));
    expect(await changeCount(t.sql)).toBe(afterSetUp);
    expect((await bob.call('GET', `/api/carts/${bobOpen}`)).body).toMatchObject({ status: 'OPEN', items: [] });
  });

  it('sees only their own orders in the order list, and may not ask for anybody else’s', async () => {
    const list = await waitFor('both orders in the read model', async () => {
      const all = (await admin.ok<{ orders: Array<{ id: string; customerId: string }> }>('GET', '/api/orders?limit=500')).orders;
      return all.some((order) => order.id === ids.bobOrder) && all.some((order) => order.id === ids.aliceOrder) ? all : undefined;
    });
    expect(new Set(list.map((order) => order.customerId))).toEqual(new Set([ids.alice, ids.bob]));
    const own = (await alice.ok<{ orders: Array<{ id: string; customerId: string }> }>('GET', '/api/orders?limit=500')).orders;
    expect(own.map((order) => order.id)).toEqual([ids.aliceOrder]);
    expectRefused(await alice.call('GET', `/api/orders?customerId=${ids.bob}`));
    expect((await alice.ok<{ orders: unknown[] }>('GET', `/api/orders?customerId=${ids.alice}`)).orders).toHaveLength(1);
  });

  it('reads the catalogue but cannot add to it or register customers', async () => {
    expect((await alice.call('GET', `/api/products/${ids.product}`)).status).toBe(200);
    const before = await quietChangeCount(t);
    expectRefused(await alice.call('POST', '/api/products', { sku: 'SKU-ALICE', name: 'Mine', priceCents: 1, stock: 1 }));
    expectRefused(await alice.call('POST', '/api/customers', { name: 'Eve', email: 'eve@example.org', balanceCents: 1_000_000 }));
    expect(await changeCount(t.sql)).toBe(before);
  });

  it('cannot reset the mirror, rebuild projections, redrive or delete dead letters, or append events; nothing changes', async () => {
    const before = await snapshot();
    const [letter] = await deadLetters();
    const annotation = uuidv7();
    for (const response of [
      await alice.call('POST', '/api/event-store/mirror/reset'),
      await alice.call('POST', '/api/projections/order-summaries/rebuild'),
      await alice.call('POST', `/api/dlq/${letter!.id}/redrive`),
      await alice.call('DELETE', `/api/dlq/${letter!.id}`),
      await alice.call('POST', `/api/streams/annotation/${annotation}/events`, {
        expectedVersion: 0,
        events: [{ type: 'NoteAdded', data: { text: 'forged' } }],
      }),
      await alice.call('GET', '/api/events'),
      await alice.call('GET', '/api/dlq'),
    ]) {
      expectRefused(response);
    }
    expect(await snapshot()).toEqual(before);
    expect((await admin.call('GET', `/api/streams/annotation/${annotation}`)).status).toBe(404);
  });
});

describe('an agent', () => {
  it('reads the operations views', async () => {
    for (const path of [
      '/api/events?limit=5',
      `/api/events?correlationId=${(await admin.order(ids.aliceOrder)).correlationId}`,
      '/api/sagas',
      '/api/reports/sales',
      '/api/reports/stock',
      '/api/reports/refunds',
      '/api/reports/complaints',
      '/api/projections',
      '/api/dlq',
      '/api/event-store/status',
      '/api/orders',
      `/api/orders/${ids.bobOrder}`,
      '/api/sales/summary',
    ]) {
      expect((await agent.call('GET', path)).status, path).toBe(200);
    }
  });

  it('cannot redrive, delete, rebuild, reset, append, or read customer records; nothing changes', async () => {
    const before = await snapshot();
    const [letter] = await deadLetters();
    for (const response of [
      await agent.call('POST', '/api/event-store/mirror/reset'),
      await agent.call('POST', '/api/projections/order-summaries/rebuild'),
      await agent.call('POST', `/api/dlq/${letter!.id}/redrive`),
      await agent.call('DELETE', `/api/dlq/${letter!.id}`),
      await agent.call('POST', `/api/streams/annotation/${uuidv7()}/events`, {
        expectedVersion: 0,
        events: [{ type: 'NoteAdded', data: { text: 'forged' } }],
      }),
      await agent.call('POST', '/api/products', { sku: 'SKU-AGENT', name: 'Nope', priceCents: 1, stock: 1 }),
      await agent.call('GET', `/api/customers/${ids.alice}`),
      await agent.call('POST', '/api/carts', { customerId: ids.alice }),
    ]) {
      expectRefused(response);
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('the actor of events', () => {
  it("is the customer who checked out (customer:<id>), never a client's header", async () => {
    const cart = (await alice.cart(ids.alice)).id;
    await alice.addItem(cart, ids.product, 1);
    const response = await alice.call('POST', `/api/carts/${cart}/checkout`, undefined);
    expect(response.status).toBe(202);
    const { correlationId } = await alice.order(response.body.orderId);
    const requested = await waitFor('the checkout events in the store', async () => {
      const events = await eventsWhere(`correlationId=${correlationId}`);
      return events.some((event) => event.type === 'OrderPlaced') ? events : undefined;
    });
    for (const type of ['CartCheckedOut', 'OrderPlaced']) {
      expect(requested.find((event) => event.type === type)?.actor, type).toBe(`customer:${ids.alice}`);
    }
    // What services did in reaction keeps their own actor.
    expect(
      requested
        .filter((event) => event.actor.startsWith('customer:'))
        .map((event) => event.type)
        .sort(),
    ).toEqual(['CartCheckedOut', 'OrderPlaced']);
  });

  it('is admin:<subject> for a product the admin created, and for an append, whatever x-actor says', async () => {
    const [, payload] = ((await admin.authHeaders()).authorization ?? '').replace('Bearer ', '').split('.');
    const subject = (JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as { sub: string }).sub;
    const product = await admin.product(1, 100);
    const created = await waitFor('ProductCreated in the store', async () => {
      const [event] = await eventsWhere(`type=ProductCreated&aggregateId=${product.id}`);
      return event;
    });
    expect(created.actor).toBe(`admin:${subject}`);

    const annotation = uuidv7();
    const appended = await fetch(`${t.system.gatewayUrl}/api/streams/annotation/${annotation}/events`, {
      method: 'POST',
      headers: { ...(await admin.authHeaders()), 'content-type': 'application/json', 'x-actor': 'customer:someone-else' },
      body: JSON.stringify({ expectedVersion: 0, events: [{ type: 'NoteAdded', data: { text: 'by the admin' } }] }),
    });
    expect(appended.status).toBe(201);
    const [event] = await waitFor('the annotation in the store', async () => {
      const events = await eventsWhere(`aggregateId=${annotation}`);
      return events.length > 0 ? events : undefined;
    });
    expect(event?.actor).toBe(`admin:${subject}`);
  });
});

describe('an admin', () => {
  it('redrives and deletes dead letters, rebuilds a projection and resets the mirror', async () => {
    await jetstream(t.nc).publish(eventSubject('reservation', uuidv7(), 'StockReserved'), '{"poison again": ');
    const letters = await waitFor('two dead letters', async () => {
      const found = await deadLetters();
      return found.length >= 2 ? found : undefined;
    });
    expect((await admin.call('DELETE', `/api/dlq/${letters[0]!.id}`)).status).toBe(204);
    expect((await admin.call('POST', `/api/dlq/${letters[1]!.id}/redrive`)).status).toBe(202);
    const rebuild = await admin.call('POST', '/api/projections/stock-levels/rebuild');
    expect(rebuild.status).toBe(202);
    await waitFor('the rebuilt projection live', async () => {
      const { projections } = await admin.ok<{ projections: Array<{ name: string; version: number; state: string }> }>(
        'GET',
        '/api/projections',
      );
      return projections.some((p) => p.name === 'stock-levels' && p.version === rebuild.body.version && p.state === 'LIVE')
        ? true
        : undefined;
    });
    expect((await admin.call('POST', '/api/event-store/mirror/reset')).status).toBe(202);
    await waitFor('the mirror caught up again', async () => {
      const { mirror } = await admin.ok<{ mirror: { lag: number; position: number } }>('GET', '/api/event-store/status');
      return mirror.lag === 0 && mirror.position > 0 ? true : undefined;
    });
  });
});
