import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '@jetsaga/devstack';
import { ERASED } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem, waitForConsumerIdle } from './support/harness.js';
import { type Notification, notificationsApi } from './support/notification.js';
import { changeCount, expectProblem } from './support/problems.js';
import { type Address, type ShippingApi, shippingApi } from './support/shipping.js';

/**
 * GDPR erasure by crypto-shredding (ADR 0052), against the running system: two customers buy, their parcels are
 * delivered and they get their emails; one is erased; then every byte the system keeps (every JetStream stream, every
 * table of every schema, every service's log) is searched for that customer's name, email and address lines, and
 * none is found, while the other customer's data still reads, and replay, projections and the audit chain still work.
 */
let t: TestSystem;
let api: Api;
let shipping: ShippingApi;

type Person = { id: string; name: string; email: string; home: Address; elsewhere: Address; orders: string[]; shipments: string[] };

/** Strings no other test writes: each one found anywhere is a leak of that person. */
function person(tag: string): Omit<Person, 'id' | 'orders' | 'shipments'> {
  const mark = `${tag}${Math.random().toString(36).slice(2, 10)}`;
  return {
    name: `Grace ${mark} Hopper`,
    email: `grace.${mark}@example.org`,
    home: { line1: `7 Rue ${mark} Oubli`, line2: `Bat ${mark}`, city: `Ville${mark}`, postalCode: `P${mark}`, country: 'FR' },
    elsewhere: { line1: `9 Quai ${mark} Ailleurs`, city: `Cite${mark}`, postalCode: `Q${mark}`, country: 'BE' },
  };
}

/** Every string of a person that must be gone after their erasure. */
function needles(p: Omit<Person, 'id' | 'orders' | 'shipments'>): string[] {
  const { line1, line2, city, postalCode } = p.home;
  return [p.name, p.email, line1, line2 ?? '', city, postalCode, p.elsewhere.line1, p.elsewhere.city, p.elsewhere.postalCode];
}

async function register(tag: string): Promise<Person> {
  const p = person(tag);
  const created = await api.ok<{ id: string }>('POST', '/api/customers', {
    name: p.name,
    email: p.email,
    balanceCents: 100_000,
    address: p.home,
  });
  return { ...p, id: created.id, orders: [], shipments: [] };
}

/** One order to the customer's own address and one to another: completed, dispatched, delivered, emailed. */
async function buyAndReceive(p: Person): Promise<void> {
  const product = await api.product(10, 2_500);
  for (const shippingAddress of [undefined, p.elsewhere]) {
    const orderId = await shipping.buy(p.id, product.id, 1, shippingAddress);
    expect((await api.terminal(orderId)).status).toBe('COMPLETED');
    const parcel = await shipping.of(orderId);
    expect((await shipping.dispatch(parcel.id)).status).toBe(200);
    expect((await shipping.deliver(parcel.id)).status).toBe(200);
    p.orders.push(orderId);
    p.shipments.push(parcel.id);
  }
}

/** Waits for the emails of a person's orders: completed and delivered, each SENT. */
async function emailed(p: Person): Promise<Notification[]> {
  const notifications = notificationsApi(api);
  const sent: Notification[] = [];
  for (const orderId of p.orders) {
    for (const template of ['order-completed', 'shipment-delivered']) sent.push(await notifications.settled(orderId, template, 60_000));
  }
  return sent;
}

/** The first needle that occurs in `haystack`, if any. */
function leak(haystack: Buffer | string, of: readonly string[]): string | undefined {
  const bytes = typeof haystack === 'string' ? Buffer.from(haystack, 'utf8') : haystack;
  return of.find((needle) => needle.length > 0 && bytes.includes(Buffer.from(needle, 'utf8')));
}

/** Every message of every stream, raw (payload and headers), with where it is. */
async function streamMessages(): Promise<Array<{ where: string; bytes: Buffer }>> {
  const jsm = await jetstreamManager(t.nc);
  const found: Array<{ where: string; bytes: Buffer }> = [];
  for await (const info of jsm.streams.list()) {
    const { first_seq: first, last_seq: last, messages } = info.state;
    if (messages === 0) continue;
    for (let seq = first; seq <= last; seq++) {
      const message = await jsm.streams.getMessage(info.config.name, { seq }).catch(() => null);
      if (!message) continue; // deleted, or purged
      const headers = message.header ? Buffer.from(message.header.toString(), 'utf8') : Buffer.alloc(0);
      found.push({
        where: `${info.config.name}#${seq} ${message.subject}`,
        bytes: Buffer.concat([Buffer.from(message.subject), headers, Buffer.from(message.data)]),
      });
    }
  }
  return found;
}

/** Every row of every table of every schema of the system's database, as text. */
async function tableRows(): Promise<Array<{ where: string; text: string }>> {
  const { rows: tables } = await t.sql.query<{ schema: string; name: string }>(
    `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
     WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
  );
  const found: Array<{ where: string; text: string }> = [];
  for (const { schema, name } of tables) {
    const table = `"${schema}"."${name}"`;
    const { rows } = await t.sql.query<{ text: string | null }>(`SELECT string_agg(t::text, E'\\n') AS text FROM ${table} t`);
    found.push({ where: `${schema}.${name}`, text: rows[0]?.text ?? '' });
  }
  return found;
}

/** Every service's log file (Mailpit's own files aside: its inbox is outside what erasure reaches, ADR 0052). */
async function logFiles(): Promise<Array<{ where: string; bytes: Buffer }>> {
  const found: Array<{ where: string; bytes: Buffer }> = [];
  for (const entry of await readdir(t.logDir)) {
    const path = join(t.logDir, entry);
    if (!(await stat(path)).isFile()) continue;
    found.push({ where: entry, bytes: await readFile(path) });
  }
  return found;
}

const leaksOf = (what: ReadonlyArray<{ where: string; bytes?: Buffer; text?: string }>, of: readonly string[]) =>
  what.flatMap((item) => {
    const found = leak(item.bytes ?? item.text ?? '', of);
    return found ? [`${item.where}: ${found}`] : [];
  });

let erased: Person;
let kept: Person;
/** The erased customer's notifications before the erasure: the history keeps them, without the address. */
let emailedBefore: string[] = [];

beforeAll(async () => {
  t = await startTestSystem();
  api = t.api;
  shipping = shippingApi(api);
  erased = await register('e');
  kept = await register('k');
  await Promise.all([buyAndReceive(erased), buyAndReceive(kept)]);
  await Promise.all([emailed(erased), emailed(kept)]);
}, 240_000);

afterAll(async () => {
  await t?.stop();
});

/** What the services must have done on CustomerErased: every consumer idle, the mirror and the trail caught up. */
async function settled(): Promise<void> {
  for (const durable of ['shipping', 'notification', 'audit', 'order-catalog']) await waitForConsumerIdle(t.nc, 'EVENTS', durable, 60_000);
  const jsm = await jetstreamManager(t.nc);
  const { state } = await jsm.streams.info('EVENTS');
  await waitFor(
    'the mirror and the audit trail to hold every event',
    async () => {
      const { rows } = await t.sql.query<{ mirrored: number; audited: number }>(
        'SELECT (SELECT count(*)::int FROM eventstore.events) AS mirrored, (SELECT count(*)::int FROM audit.entries) AS audited',
      );
      return rows[0]!.mirrored >= state.messages && rows[0]!.audited >= state.messages;
    },
    60_000,
  );
}

describe('before any erasure', () => {
  it('keeps no plaintext personal data in the event log: it is sealed per customer when written', async () => {
    const messages = await streamMessages();
    expect(messages.some((message) => message.where.startsWith('EVENTS#'))).toBe(true);
    expect(leaksOf(messages, [...needles(erased), ...needles(kept)])).toEqual([]);
    const { rows } = await t.sql.query(
      `SELECT data->>'name' AS name FROM eventstore.events WHERE type = 'CustomerRegistered' AND aggregate_id = $1`,
      [erased.id],
    );
    expect(rows[0]?.name).toMatch(/^enc:v1:[0-9a-f-]{36}:/);
  });

  it('lets the readers that hold the key see plaintext: state rebuild, parcels, emails', async () => {
    const state = await api.ok('GET', `/api/aggregates/customer/${erased.id}/state`);
    expect(state.state).toMatchObject({ name: erased.name, email: erased.email });
    expect((await shipping.get(erased.shipments[0]!)).address).toMatchObject({ line1: erased.home.line1, city: erased.home.city });
    expect((await shipping.get(erased.shipments[1]!)).address).toMatchObject({ line1: erased.elsewhere.line1 });
    await emailed(erased);
    const notifications = await notificationsApi(api).list({ customerId: erased.id });
    expect(notifications.length).toBeGreaterThanOrEqual(4);
    expect(new Set(notifications.map((n) => n.to))).toEqual(new Set([erased.email]));
    emailedBefore = notifications.map((n) => n.id);
  });
});

describe('POST /api/customers/:id/erasure', () => {
  it('is refused to a customer (even themselves) and to an agent, and changes nothing', async () => {
    const asThemselves = await api.as('customer', erased.id).call('POST', `/api/customers/${erased.id}/erasure`);
    expectProblem(asThemselves, 403);
    expectProblem(await api.as('agent').call('POST', `/api/customers/${erased.id}/erasure`), 403);
    expectProblem(await api.withToken(null).call('POST', `/api/customers/${erased.id}/erasure`), 401);
    expect((await api.ok('GET', `/api/customers/${erased.id}`)).name).toBe(erased.name);
  });

  it('answers a malformed id, an unknown customer and a body with fields with problem+json, and changes nothing', async () => {
    const before = await changeCount(t.sql);
    expectProblem(await api.call('POST', '/api/customers/not-a-uuid/erasure'), 404, 'id');
    expectProblem(await api.call('POST', `/api/customers/${crypto.randomUUID()}/erasure`), 404);
    expectProblem(await api.call('POST', `/api/customers/${erased.id}/erasure`, { reason: 'asked' }), 400);
    expect(await changeCount(t.sql)).toBe(before);
    expect((await api.ok('GET', `/api/customers/${erased.id}`)).name).toBe(erased.name);
  });

  it('erases once: the key is destroyed, CustomerErased is emitted, and asking again changes nothing', async () => {
    const first = await api.call('POST', `/api/customers/${erased.id}/erasure`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ customerId: erased.id, alreadyErased: false, erasedAt: expect.any(String) });
    const again = await api.call('POST', `/api/customers/${erased.id}/erasure`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, alreadyErased: true });
    const { rows } = await t.sql.query(`SELECT wrapped, erased_at FROM keyring.data_keys WHERE customer_id = $1`, [erased.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].wrapped).toBeNull();
    await settled();
    const { rows: events } = await t.sql.query(`SELECT data FROM eventstore.events WHERE type = 'CustomerErased' AND aggregate_id = $1`, [
      erased.id,
    ]);
    expect(events.map((row) => row.data)).toEqual([{ customerId: erased.id, erasedAt: first.body.erasedAt }]);
  });
});

describe('after the erasure', () => {
  it('finds none of their name, email or address lines in any stream, table or log, byte for byte', async () => {
    await settled();
    const [messages, rows, logs] = await Promise.all([streamMessages(), tableRows(), logFiles()]);
    expect(messages.length).toBeGreaterThan(0);
    expect(rows.map((row) => row.where)).toEqual(
      expect.arrayContaining([
        'eventstore.events',
        'audit.entries',
        'notification.notifications',
        'payment.customers',
        'keyring.data_keys',
      ]),
    );
    expect(logs.length).toBeGreaterThan(5);
    expect(leaksOf(messages, needles(erased))).toEqual([]);
    expect(leaksOf(rows, needles(erased))).toEqual([]);
    expect(leaksOf(logs, needles(erased))).toEqual([]);
    // The other customer's own copies are still there: the search would have found them.
    expect(leaksOf(rows, [kept.name, kept.email, kept.home.line1, kept.elsewhere.line1]).length).toBeGreaterThan(0);
  });

  it('shows [erased] where their data was, and the other customer as before', async () => {
    const customer = await api.ok('GET', `/api/customers/${erased.id}`);
    expect(customer).toMatchObject({ id: erased.id, name: ERASED, email: ERASED, balanceCents: 100_000 - 2 * 2_500 });
    expect(customer.address).toBeUndefined();
    expect((await api.ok('GET', `/api/customers/${kept.id}`)).name).toBe(kept.name);

    const state = await api.ok('GET', `/api/aggregates/customer/${erased.id}/state`);
    expect(state.state).toEqual({ id: erased.id, name: ERASED, email: ERASED, balanceCents: 95_000 });
    expect((await api.ok('GET', `/api/aggregates/customer/${kept.id}/state`)).state).toMatchObject({ name: kept.name, email: kept.email });

    for (const id of erased.shipments) {
      const parcel = await shipping.get(id);
      expect(parcel.status).toBe('DELIVERED');
      expect(parcel.address).toMatchObject({ line1: ERASED, city: ERASED, postalCode: ERASED });
    }
    expect((await shipping.get(kept.shipments[1]!)).address).toEqual(kept.elsewhere);

    const notifications = notificationsApi(api);
    const theirs = await notifications.list({ customerId: erased.id });
    expect(theirs.map((n) => n.id).sort()).toEqual(emailedBefore.sort());
    expect(new Set(theirs.map((n) => n.to))).toEqual(new Set([ERASED]));
    expect(new Set((await notifications.list({ customerId: kept.id })).map((n) => n.to))).toEqual(new Set([kept.email]));
  });

  it('still replays: a projection rebuilt from the first event gives the same rows, and the audit chain verifies', async () => {
    const projections = async () =>
      (await api.ok<{ projections: Array<{ name: string; state: string; version: number; lag: number }> }>('GET', '/api/projections'))
        .projections;
    await waitFor('projections to catch up', async () => (await projections()).every((p) => p.lag === 0), 60_000);
    const live = (await projections()).find((p) => p.name === 'order-summaries' && p.state === 'LIVE');
    const before = await api.ok('GET', '/api/projections/order-summaries/checksum');
    expect((await api.call('POST', '/api/projections/order-summaries/rebuild')).status).toBe(202);
    await waitFor(
      'the rebuilt version to go live',
      async () => (await projections()).find((p) => p.name === 'order-summaries' && p.state === 'LIVE' && p.version === live!.version + 1),
      60_000,
    );
    const after = await api.ok('GET', '/api/projections/order-summaries/checksum');
    expect({ rows: after.rows, checksum: after.checksum }).toEqual({ rows: before.rows, checksum: before.checksum });
    const orders = await api.ok<{ orders: Array<{ id: string; status: string }> }>('GET', `/api/orders?customerId=${erased.id}`);
    expect(orders.orders.map((order) => order.status)).toEqual(['COMPLETED', 'COMPLETED']);

    const verdict = await api.ok('GET', '/api/audit/verify');
    expect(verdict).toMatchObject({ ok: true, firstBroken: null });
    expect(verdict.checked).toBeGreaterThan(0);
  });

  it('keeps money and stock whole: balances and sales add up for both customers', async () => {
    for (const p of [erased, kept]) expect((await api.ok('GET', `/api/customers/${p.id}`)).balanceCents).toBe(95_000);
    const { rows } = await t.sql.query(
      `SELECT (SELECT coalesce(sum(amount_cents - refunded_cents), 0)::int FROM payment.payments WHERE customer_id = ANY($1::uuid[]) AND status = 'ACCEPTED') AS paid`,
      [[erased.id, kept.id]],
    );
    expect(rows[0].paid).toBe(4 * 2_500);
  });

  it('still takes orders from the other customer, and a late order of the erased one carries no personal data', async () => {
    const product = await api.product(5, 1_000);
    const orderId = await shipping.buy(kept.id, product.id, 1);
    expect((await api.terminal(orderId)).status).toBe('COMPLETED');
    expect((await shipping.of(orderId)).address).toEqual(kept.home);
    const late = await shipping.buy(erased.id, product.id, 1, erased.elsewhere);
    expect((await api.terminal(late)).status).toBe('COMPLETED');
    // Sealed for no one: the checkout's address became [erased] on its way into the log.
    const placed = await waitFor('the late order in the mirror', async () => {
      const { rows } = await t.sql.query(
        `SELECT data->'shippingAddress' AS address FROM eventstore.events WHERE type = 'OrderPlaced' AND aggregate_id = $1`,
        [late],
      );
      return rows[0];
    });
    expect(placed.address).toEqual({ line1: ERASED, city: ERASED, postalCode: ERASED, country: 'BE' });
    await settled();
    expect(leaksOf(await tableRows(), needles(erased))).toEqual([]);
  });
});
