import { createEvent, type DomainEvent, type EventData, type EventType, uuidv7 } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import { orderSummaries, PROJECTIONS, type ProjectionDefinition, sagaTimelines, salesDaily, stockLevels } from './definitions.js';
import { applyInMemory, merge, type MemoryTables, type RowOp, rowsOf } from './ops.js';

const correlationId = uuidv7();
const orderId = uuidv7();
const customerId = uuidv7();
const lamp = uuidv7();
const desk = uuidv7();
const lines = [
  { productId: lamp, quantity: 2, priceCents: 500 },
  { productId: desk, quantity: 1, priceCents: 9000 },
];

function event<T extends EventType>(
  type: T,
  aggregateId: string,
  data: EventData<T>,
  occurredAt = '2026-11-21T10:00:00.000Z',
): DomainEvent {
  return createEvent(type, aggregateId, data, { id: uuidv7(), occurredAt, correlationId, causationId: 'test', actor: 'test' });
}

const placed = event('OrderPlaced', orderId, {
  orderId,
  cartId: uuidv7(),
  customerId,
  lines,
  totalCents: 10_000,
  deadlineAt: '2026-11-21T10:00:30Z',
});
const reserved = event('StockReserved', orderId, { orderId, customerId, lines, totalCents: 10_000 });
const sold = event('SaleConfirmed', orderId, { orderId, customerId, lines, totalCents: 10_000 }, '2026-11-21T10:00:01.000Z');
const committed = event('StockCommitted', orderId, { orderId, lines });
const completed = event('OrderCompleted', orderId, { orderId }, '2026-11-21T10:00:02.000Z');

function given(definition: ProjectionDefinition, events: DomainEvent[]): MemoryTables {
  return applyInMemory(
    new Map(),
    events.flatMap((e) => definition.project(e)),
  );
}

describe('projections: given these events, expect these rows', () => {
  it('order summaries follow the order to its end', () => {
    expect(rowsOf(given(orderSummaries, [placed, reserved, completed]), 'orders')).toEqual([
      {
        order_id: orderId,
        customer_id: customerId,
        status: 'COMPLETED',
        total_cents: 10_000,
        line_count: 2,
        correlation_id: correlationId,
        placed_at: '2026-11-21T10:00:00.000Z',
        ended_at: '2026-11-21T10:00:02.000Z',
      },
    ]);
  });

  it('sales add up per product and day', () => {
    const again = event('SaleConfirmed', uuidv7(), {
      orderId: uuidv7(),
      customerId,
      lines: [lines[0] as (typeof lines)[0]],
      totalCents: 1000,
    });
    const rows = rowsOf(given(salesDaily, [sold, again, placed]), 'sales');
    expect(rows).toEqual(
      expect.arrayContaining([
        { day: '2026-11-21', product_id: lamp, quantity: 4, revenue_cents: 2000, orders: 2 },
        { day: '2026-11-21', product_id: desk, quantity: 1, revenue_cents: 9000, orders: 1 },
      ]),
    );
    expect(rows).toHaveLength(2);
  });

  it('stock levels move between available, reserved and sold', () => {
    const created = event('ProductCreated', lamp, { productId: lamp, sku: 'LAMP', name: 'Lamp', priceCents: 500, stock: 10 });
    const rows = rowsOf(given(stockLevels, [created, reserved, committed]), 'stock');
    expect(rows.find((row) => row.product_id === lamp)).toEqual({
      product_id: lamp,
      sku: 'LAMP',
      name: 'Lamp',
      price_cents: 500,
      available: 8,
      reserved: 0,
      sold: 2,
    });
  });

  it('saga timelines count steps and record the outcome', () => {
    expect(rowsOf(given(sagaTimelines, [placed, reserved, sold, committed, completed]), 'sagas')).toEqual([
      {
        correlation_id: correlationId,
        order_id: orderId,
        customer_id: customerId,
        outcome: 'COMPLETED',
        started_at: '2026-11-21T10:00:00.000Z',
        ended_at: '2026-11-21T10:00:02.000Z',
        steps: 5,
        last_type: 'OrderCompleted',
      },
    ]);
  });
});

describe('the event types a projection declares', () => {
  // A rebuild reads only the declared types: an event of any other type must change nothing.
  const created = event('ProductCreated', lamp, { productId: lamp, sku: 'LAMP', name: 'Lamp', priceCents: 500, stock: 10 });
  const cancelled = event('OrderCancelled', orderId, { orderId, customerId, reason: 'OUT_OF_STOCK' });
  const released = event('StockReleased', orderId, { orderId, lines, reason: 'ORDER_CANCELLED' });
  const refunded = event('PaymentRefunded', orderId, { orderId, customerId, amountCents: 10_000 });
  const saleCancelled = event('SaleCancelled', orderId, { orderId, customerId, lines, totalCents: 10_000 });
  const restocked = event('StockRestocked', orderId, { orderId, lines });
  const registered = event('CustomerRegistered', customerId, { customerId, name: 'Ada', email: 'ada@example.org', balanceCents: 0 });
  const complaintId = uuidv7();
  const refundId = uuidv7();
  const complaintOpened = event('ComplaintOpened', complaintId, {
    complaintId,
    customerId,
    orderId,
    title: 'Broken',
    description: 'It broke',
    priority: 'LOW',
    category: 'PRODUCT',
    automatic: false,
    deadlineAt: '2026-11-24T10:00:00Z',
  });
  const complaintSteps = [
    event('ComplaintAssigned', complaintId, { complaintId, agent: 'alice' }),
    event('ComplaintProcessingStarted', complaintId, { complaintId }),
    event('ComplaintResolved', complaintId, { complaintId, resolution: 'refund', refundCents: 500, refundId }),
    event('ComplaintClosed', complaintId, { complaintId }),
    event('ComplaintEscalated', complaintId, { complaintId, priority: 'LOW', stage: 'UNRESOLVED', deadlineAt: '2026-11-24T10:00:00Z' }),
  ];
  const refundAsked = event('RefundRequested', refundId, {
    refundId,
    orderId,
    customerId,
    amountCents: 500,
    reason: 'COMPLAINT_RESOLVED',
    complaintId,
  });
  const refundGiven = event('PaymentRefunded', orderId, { orderId, customerId, amountCents: 500, refundId, complaintId });
  const refundRefused = event('RefundRejected', orderId, {
    refundId,
    orderId,
    customerId,
    amountCents: 500,
    reason: 'EXCEEDS_PAYMENT',
    complaintId,
  });
  const samples = [
    placed,
    reserved,
    sold,
    committed,
    completed,
    created,
    cancelled,
    released,
    refunded,
    saleCancelled,
    restocked,
    registered,
    complaintOpened,
    ...complaintSteps,
    refundAsked,
    refundGiven,
    refundRefused,
  ];

  it.each(PROJECTIONS.map((definition) => [definition.name, definition] as const))(
    '%s projects only the types it declares',
    (_, definition) => {
      for (const sample of samples) {
        const ops = definition.project(sample);
        if (!definition.eventTypes.includes(sample.type)) expect(ops, sample.type).toEqual([]);
      }
      // Each declared type that has samples does something with one of them (a cancellation's refund is not a complaint's),
      // so the list is not wider than the code either.
      for (const type of new Set(samples.map((entry) => entry.type).filter((type) => definition.eventTypes.includes(type)))) {
        const ops = samples.filter((entry) => entry.type === type).flatMap((sample) => definition.project(sample));
        expect(ops.length, type).toBeGreaterThan(0);
      }
    },
  );
});

describe('merging a batch of row operations', () => {
  it('gives the same rows as applying them one by one', () => {
    const ops: RowOp[] = [
      { table: 't', key: { id: 'a' }, add: { n: 2 } },
      { table: 't', key: { id: 'a' }, set: { name: 'x' } },
      { table: 't', key: { id: 'b' }, set: { n: 10 } },
      { table: 't', key: { id: 'b' }, add: { n: 5 } },
      { table: 't', key: { id: 'a' }, add: { n: 3 } },
      { table: 't', key: { id: 'a' }, set: { name: 'y' } },
    ];
    const oneByOne = rowsOf(applyInMemory(new Map(), ops), 't');
    const merged = rowsOf(
      applyInMemory(
        new Map(),
        merge(ops).map((delta) => ({ table: delta.table, key: delta.key, set: delta.set, add: delta.add })),
      ),
      't',
    );
    expect(merged).toEqual(oneByOne);
    expect(oneByOne).toEqual([
      { id: 'a', n: 5, name: 'y' },
      { id: 'b', n: 15 },
    ]);
  });
});
