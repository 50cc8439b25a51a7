import { createEvent, type DomainEvent, type EventData, type EventType, uuidv7 } from '@jetsaga/events';
import { DLQ_HEADERS } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { CATALOG_CONSUMER, eventSequence } from './consumer.js';
import { catalogRows, isEmpty, type SequencedEvent } from './projection.js';

const ada = '0190a000-0000-7000-8000-000000000001';
const lamp = '0190a000-0000-7000-8000-000000000002';
const desk = '0190a000-0000-7000-8000-000000000003';

function event<T extends EventType>(type: T, aggregateId: string, data: EventData<T>): DomainEvent {
  return createEvent(type, aggregateId, data, {
    id: uuidv7(),
    occurredAt: '2026-12-02T00:00:00.000Z',
    correlationId: uuidv7(),
    causationId: 'test',
    actor: 'test',
  });
}

const registered = (customerId: string) =>
  event('CustomerRegistered', customerId, { customerId, name: 'Ada', email: 'ada@example.org', balanceCents: 100 });
const created = (productId: string, priceCents: number) =>
  event('ProductCreated', productId, { productId, sku: `SKU-${productId}`, name: 'Lamp', priceCents, stock: 3 });
const at = (sequence: number, e: DomainEvent): SequencedEvent => ({ event: e, sequence });

describe('catalogue projection: given these events, expect these rows', () => {
  it('knows a registered customer and a created product at its price, with the sequence that stored each', () => {
    expect(catalogRows([at(4, registered(ada)), at(7, created(lamp, 2500))])).toEqual({
      customers: [{ customerId: ada, sequence: 4 }],
      products: [{ productId: lamp, priceCents: 2500, sequence: 7 }],
    });
  });

  it('keeps one row per id in a batch, the latest event winning whatever the order they come in', () => {
    const rows = catalogRows([
      at(9, created(lamp, 3000)),
      at(5, created(lamp, 2500)),
      at(6, created(desk, 9900)),
      at(8, registered(ada)),
      at(2, registered(ada)),
    ]);
    expect(rows.products).toEqual([
      { productId: lamp, priceCents: 3000, sequence: 9 },
      { productId: desk, priceCents: 9900, sequence: 6 },
    ]);
    expect(rows.customers).toEqual([{ customerId: ada, sequence: 8 }]);
  });

  it('gives the same rows for a batch delivered twice (a redelivery or a replay)', () => {
    const batch = [at(4, registered(ada)), at(7, created(lamp, 2500))];
    expect(catalogRows([...batch, ...batch])).toEqual(catalogRows(batch));
  });

  it('makes no row from events that are not the catalogue', () => {
    const orderId = uuidv7();
    const rows = catalogRows([at(3, event('OrderCompleted', orderId, { orderId }))]);
    expect(rows).toEqual({ customers: [], products: [] });
    expect(isEmpty(rows)).toBe(true);
    expect(isEmpty(catalogRows([at(4, registered(ada))]))).toBe(false);
  });
});

describe('the version of a delivered event', () => {
  const delivery = { subject: `events.customer.${ada}.CustomerRegistered`, streamSequence: 12, deliveryCount: 1, headers: {} };

  it('is the EVENTS sequence that stored it', () => {
    expect(eventSequence(delivery)).toBe(12);
  });

  it('is the original sequence for a dead letter put back by the redrive API, not the DLQ stream sequence', () => {
    const redriven = {
      ...delivery,
      subject: `dlq.redrive.${CATALOG_CONSUMER}`,
      streamSequence: 3,
      headers: { [DLQ_HEADERS.sequence]: '12' },
    };
    expect(eventSequence(redriven)).toBe(12);
    expect(eventSequence({ ...redriven, headers: {} })).toBe(3);
  });
});
