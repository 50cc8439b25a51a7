import { adminCredentials, createTestDatabase, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { createEvent, type DomainEvent, EVENTS_STREAM, eventSubject, uuidv7 } from '@jetsaga/events';
import {
  connectNats,
  createLogger,
  createPool,
  type Db,
  decodeEvent,
  EventConsumer,
  ensureTopology,
  metricsRegistry,
  migrate,
  type NatsConnection,
  type ServiceDeps,
} from '@jetsaga/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Lookups, localLookups } from '../lookups.js';
import { migrations } from '../migrations.js';
import { CATALOG_CONSUMER, catalogConsumers } from './consumer.js';
import { applyCatalogRows } from './store.js';

let nats: NatsServer;
let nc: NatsConnection;
let db: Db;
const log = createLogger('catalog-test', 'silent');

function meta() {
  return { id: uuidv7(), occurredAt: new Date().toISOString(), correlationId: uuidv7(), causationId: 'test', actor: 'test' };
}
const registered = (customerId: string) =>
  createEvent('CustomerRegistered', customerId, { customerId, name: 'Ada', email: 'ada@example.org', balanceCents: 100 }, meta());
const created = (productId: string, priceCents: number) =>
  createEvent('ProductCreated', productId, { productId, sku: `SKU-${productId}`, name: 'Lamp', priceCents, stock: 3 }, meta());

async function publish(event: DomainEvent): Promise<number> {
  const ack = await jetstream(nc).publish(eventSubject(event.aggregateType, event.aggregateId, event.type), JSON.stringify(event), {
    msgID: event.id,
  });
  return ack.seq;
}

/** The order service's catalogue consumer, as runService starts it. */
function catalogConsumer(): EventConsumer<DomainEvent> {
  const [definition] = catalogConsumers({ db } as ServiceDeps);
  return new EventConsumer({
    createMissing: true,
    nc,
    log,
    spec: definition!.spec,
    decode: decodeEvent,
    handleBatch: definition!.handleBatch,
  });
}

async function idle(): Promise<boolean> {
  const info = await (await jetstreamManager(nc)).consumers.info(EVENTS_STREAM, CATALOG_CONSUMER);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

/** Every row with its xmin: a row that an upsert rewrote, even to the same values, gets a new one. */
async function snapshot() {
  const customers = await db.query('SELECT customer_id, event_sequence, xmin::text FROM known_customers ORDER BY customer_id');
  const products = await db.query('SELECT product_id, price_cents, event_sequence, xmin::text FROM product_prices ORDER BY product_id');
  return { customers: customers.rows, products: products.rows };
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  nc = await connectNats(nats.url, 'catalog-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(nc);
  db = createPool(await createTestDatabase(inject('postgresUrl'), 'catalog'), 'orders');
  await migrate(db, 'orders', migrations);
});

afterAll(async () => {
  await db?.end();
  await nc?.close();
  await nats?.stop();
});

describe("order's read model of customers and prices", () => {
  const ada = uuidv7();
  const lamp = uuidv7();
  const desk = uuidv7();
  const sequences: Record<string, number> = {};

  it('is built from the whole stream by a consumer started after the events were stored', async () => {
    sequences.ada = await publish(registered(ada));
    const orderId = uuidv7();
    await publish(createEvent('OrderCompleted', orderId, { orderId }, meta()));
    sequences.lamp = await publish(created(lamp, 2500));
    sequences.desk = await publish(created(desk, 9900));

    const consumer = catalogConsumer();
    await consumer.start();
    try {
      await waitFor('the catalogue consumer to catch up', idle, 10_000);
    } finally {
      await consumer.stop();
    }
    const rows = await snapshot();
    expect(rows.customers.map(({ xmin: _, ...row }) => row)).toEqual([{ customer_id: ada, event_sequence: sequences.ada }]);
    expect(rows.products.map(({ xmin: _, ...row }) => row)).toEqual(
      [
        { product_id: lamp, price_cents: 2500, event_sequence: sequences.lamp },
        { product_id: desk, price_cents: 9900, event_sequence: sequences.desk },
      ].sort((a, b) => a.product_id.localeCompare(b.product_id)),
    );
  });

  it('is left untouched by a replay of the stream from sequence 1: no row is rewritten', async () => {
    const before = await snapshot();
    await (await jetstreamManager(nc)).consumers.delete(EVENTS_STREAM, CATALOG_CONSUMER);
    const consumer = catalogConsumer();
    await consumer.start();
    try {
      await waitFor('the replay to finish', idle, 10_000);
    } finally {
      await consumer.stop();
    }
    const info = await (await jetstreamManager(nc)).consumers.info(EVENTS_STREAM, CATALOG_CONSUMER);
    expect(info.delivered.stream_seq).toBeGreaterThanOrEqual(sequences.desk!);
    expect(await snapshot()).toEqual(before);
  });

  it('changes a row only for a newer event of its id', async () => {
    expect(
      await applyCatalogRows(db, { customers: [], products: [{ productId: lamp, priceCents: 1, sequence: sequences.lamp! - 1 }] }),
    ).toEqual({
      customers: 0,
      products: 0,
    });
    expect(
      await applyCatalogRows(db, { customers: [], products: [{ productId: lamp, priceCents: 2600, sequence: sequences.desk! + 1 }] }),
    ).toEqual({
      customers: 0,
      products: 1,
    });
    const { rows } = await db.query('SELECT price_cents FROM product_prices WHERE product_id = $1', [lamp]);
    expect(rows).toEqual([{ price_cents: 2600 }]);
  });

  it('answers look-ups it knows without asking the owners, and asks them for the ids it has not seen', async () => {
    const asked: string[] = [];
    const stranger = uuidv7();
    const ghost = uuidv7();
    const owners: Lookups = {
      async product(id) {
        asked.push(`product ${id}`);
        return id === ghost ? { id, priceCents: 700 } : undefined;
      },
      async customerExists(id) {
        asked.push(`customer ${id}`);
        return id === stranger;
      },
    };
    const answered = async () => {
      const metric = await metricsRegistry().getSingleMetric('order_catalog_lookups_total')?.get();
      return Object.fromEntries((metric?.values ?? []).map((value) => [`${value.labels.lookup} ${value.labels.result}`, value.value]));
    };
    const lookups = localLookups(db, owners);

    expect(await lookups.customerExists(ada)).toBe(true);
    expect(await lookups.product(desk)).toEqual({ id: desk, priceCents: 9900 });
    expect(asked).toEqual([]);

    expect(await lookups.customerExists(stranger)).toBe(true);
    expect(await lookups.product(ghost)).toEqual({ id: ghost, priceCents: 700 });
    const unknown = uuidv7();
    expect(await lookups.customerExists(unknown)).toBe(false);
    expect(await lookups.product(unknown)).toBeUndefined();
    expect(asked).toEqual([`customer ${stranger}`, `product ${ghost}`, `customer ${unknown}`, `product ${unknown}`]);
    expect(await answered()).toEqual({
      'customer hit': 1,
      'product hit': 1,
      'customer miss': 1,
      'product miss': 1,
      'customer unknown': 1,
      'product unknown': 1,
    });
    // The owners' answers are not written into the read model: it stays a projection of the stream.
    expect(await lookups.customerExists(stranger)).toBe(true);
    expect(asked.at(-1)).toBe(`customer ${stranger}`);
  });
});
