import { waitFor } from '@jetsaga/devstack';
import { DLQ_STREAM, EVENTS_STREAM } from '@jetsaga/events';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FuzzWorld, operationsOf } from './fuzz/fuzzer.js';
import { formatReport, fuzz } from './fuzz/run.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { changeCount } from './support/problems.js';
import { adminToken, tokenFor } from './support/tokens.js';

/**
 * Property-based HTTP fuzzing of the whole system through the gateway, driven by its OpenAPI document (README,
 * Security; the properties are in tests/src/fuzz/fuzzer.ts). `npm test` runs the short form: every operation once
 * with each kind of credentials, then FUZZ_RUNS (default 400) random requests. `npm run test:fuzz` is the long form
 * (FUZZ_RUNS=10000). FUZZ_SEED fixes the sequence; a failure prints the seed and index that replay it (FUZZ_REPLAY).
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REPLAY = process.env.FUZZ_REPLAY === undefined ? undefined : Number(process.env.FUZZ_REPLAY);
const MAX_BODY_BYTES = 64 * 1024;

let t: TestSystem;
let jsm: JetStreamManager;
let world: FuzzWorld;
/** The schemas with an outbox: every service that writes events (shipping and support too). */
let outboxes: string[] = [];

beforeAll(async () => {
  t = await startTestSystem({
    // One address and a few principals send everything: the limits are not what is under test here.
    GATEWAY_RATE_CUSTOMER_QUOTA: '100000000',
    GATEWAY_RATE_AGENT_QUOTA: '100000000',
    GATEWAY_RATE_ADMIN_QUOTA: '100000000',
    GATEWAY_RATE_ADDRESS_QUOTA: '100000000',
    GATEWAY_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    // No saga deadline fires during the run: a timer's cancellation would be a change no request made.
    SAGA_DEADLINE_MS: String(3_600_000),
  });
  outboxes = (
    await t.sql.query<{ table_schema: string }>(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'`)
  ).rows.map((row) => row.table_schema);
  jsm = await jetstreamManager(t.nc);
  const { api } = t;
  // Customer A owns a cart still open, one checked out and its order; B is "another customer"; a product for both.
  const a = (await api.customer(1_000_000, 'Fuzz A')).id;
  const b = (await api.customer(1_000_000, 'Fuzz B')).id;
  const product = (await api.product(1_000_000, 100)).id;
  const openCart = (await api.cart(a)).id;
  await api.addItem(openCart, product, 1);
  const checkedOut = (await api.cart(a)).id;
  await api.addItem(checkedOut, product, 1);
  const order = await api.checkout(checkedOut);
  await api.terminal(order);
  const cartB = (await api.cart(b)).id;
  world = {
    tokens: {
      admin: await adminToken(),
      agent: await tokenFor('agent', 'fuzz-agent'),
      customerA: await tokenFor('customer', a),
      customerB: await tokenFor('customer', b),
      // Signed by the suite's issuer, but for another issuer: a token the gateway must not take.
      forged: await tokenFor('admin', 'fuzz-forger', { issuer: 'http://127.0.0.1:1' }),
      expired: await tokenFor('admin', 'fuzz-late', { ttl: -120 }),
    },
    customerA: a,
    owned: [a, openCart, checkedOut, order],
    shared: [product, b, cartB],
    maxBodyBytes: MAX_BODY_BYTES,
  };
});

afterAll(async () => {
  await t?.stop();
});

/** Every write the system could make: state tables and outboxes, the mirror, the event and dead-letter streams. */
async function snapshot(): Promise<string> {
  const [changes, mirrored, events, dlq] = await Promise.all([
    changeCount(t.sql),
    t.sql.query('SELECT count(*) AS n FROM eventstore.events').then(({ rows }) => rows[0].n as string),
    jsm.streams.info(EVENTS_STREAM),
    jsm.streams.info(DLQ_STREAM),
  ]);
  return [changes, mirrored, events.state.last_seq, events.state.messages, dlq.state.last_seq, dlq.state.messages].join('/');
}

/** Events committed but not yet in the stream, over every service's outbox. */
async function unpublished(): Promise<number> {
  const { rows } = await t.sql.query(`SELECT ${outboxes.map((schema) => `(SELECT count(*) FROM ${schema}.outbox)`).join(' + ')} AS n`);
  return Number(rows[0].n);
}

/**
 * Until what an accepted request set off is done: every durable consumer of the event stream has handled everything,
 * every outbox is published, the mirror holds every event, and the state did not move between two looks.
 */
async function settle(): Promise<void> {
  let last = '';
  let busy: string[] = [];
  try {
    await waitFor(
      'the system to settle after an accepted request',
      async () => {
        busy = [];
        for await (const consumer of jsm.consumers.list(EVENTS_STREAM)) {
          // Durable consumers are the services' reactions; an ephemeral one (the mirror's ordered reader) is followed by
          // the mirrored count instead.
          if (!consumer.config.durable_name) continue;
          if (consumer.num_pending > 0 || consumer.num_ack_pending > 0) {
            busy.push(`${consumer.name} (${consumer.num_pending} pending, ${consumer.num_ack_pending} unacknowledged)`);
          }
        }
        const waiting = await unpublished();
        if (waiting > 0) busy.push(`${waiting} outbox rows`);
        const now = await snapshot();
        const [, mirrored, , messages] = now.split('/');
        if (mirrored !== messages) busy.push(`mirror at ${mirrored} of ${messages} events`);
        const still = now === last && busy.length === 0;
        last = now;
        return still;
      },
      30_000,
      20,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}: still busy: ${busy.join(', ') || 'none'}; state ${last}`, { cause: error });
  }
}

describe('HTTP fuzzing from the OpenAPI document', () => {
  it('no 5xx, no change after a refused request, no 2xx without a valid token or the right role or owner', async () => {
    const document = (await (await fetch(`${t.system.gatewayUrl}/openapi.json`)).json()) as Parameters<typeof operationsOf>[0];
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThan(10);
    const report = await fuzz({
      baseUrl: t.system.gatewayUrl,
      operations,
      world,
      seed: SEED,
      runs: RUNS,
      ...(REPLAY !== undefined ? { replay: REPLAY } : {}),
      snapshot,
      settle,
    });
    console.log(formatReport(report));
    if (REPLAY === undefined) expect(report.operationsCovered).toBe(operations.length);
    expect(report.failures, formatReport(report)).toEqual([]);
  });
});
