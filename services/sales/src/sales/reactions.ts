import { type DomainEvent, EVENTS_STREAM, eventSubject, eventTypeFilter, type OrderLine } from '@jetsaga/events';
import {
  type Addressed,
  type BatchItem,
  type Change,
  type CommandHandler,
  type ConsumerDefinition,
  counter,
  type Db,
  type EventLog,
  eventLog,
  lockRows,
  type Reaction,
  reactionConsumers,
  type ServiceDeps,
  type Tx,
} from '@jetsaga/platform';
import {
  decideSale,
  evolveSale,
  PaymentMismatchError,
  type PlacedOrders,
  type Sale,
  type SaleCommand,
  type SaleEvent,
  UnknownOrderError,
} from './sale.js';

export const SALES_CONSUMER = 'sales';
/** Sales's own consumer of OrderPlaced: which orders exist, and their totals (k8s/topology). */
export const PLACED_ORDERS_CONSUMER = 'sales-orders';

const refusedPayments = counter({
  name: 'sales_payments_refused_total',
  help: 'Attempts to confirm a sale that sales refused: unknown-order (never placed, retried a few times, then dead-lettered) or mismatch (amount or customer differs from the order; dead-lettered at once).',
  labelNames: ['reason'] as const,
});

export function commandFor(event: DomainEvent): Addressed<SaleCommand> | undefined {
  switch (event.type) {
    case 'PaymentAccepted': {
      const { orderId, customerId, lines, amountCents } = event.data;
      return { id: orderId, command: { type: 'ConfirmSale', orderId, customerId, lines, totalCents: amountCents } };
    }
    case 'OrderCancelled':
      return { id: event.data.orderId, command: { type: 'VoidSale', orderId: event.data.orderId } };
    default:
      return undefined;
  }
}

type SaleRow = {
  order_id: string;
  status: 'CONFIRMED' | 'CANCELLED' | 'VOIDED';
  customer_id: string | null;
  lines: OrderLine[];
  total_cents: number;
};

function fromRow(row: SaleRow): Sale {
  if (row.status === 'VOIDED' || !row.customer_id) return { status: 'VOIDED', orderId: row.order_id };
  return { status: row.status, orderId: row.order_id, customerId: row.customer_id, lines: row.lines, totalCents: row.total_cents };
}

const SALES = { table: 'sales', key: 'order_id', columns: 'order_id, status, customer_id, lines, total_cents' };

async function saveSales(tx: Tx, changes: readonly Change<Sale>[]): Promise<void> {
  type Row = { orderId: string; customerId: string | null; status: string; lines: OrderLine[]; totalCents: number };
  const saved = changes.flatMap(({ state }): Row[] =>
    state.status === 'NONE'
      ? []
      : state.status === 'VOIDED'
        ? [{ orderId: state.orderId, customerId: null, status: state.status, lines: [], totalCents: 0 }]
        : [state],
  );
  if (saved.length === 0) return;
  await tx.query(
    `INSERT INTO sales (order_id, customer_id, status, lines, total_cents)
     SELECT v.order_id, v.customer_id, v.status, v.lines::jsonb, v.total_cents
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[]) AS v(order_id, customer_id, status, lines, total_cents)
     ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status`,
    [
      saved.map((s) => s.orderId),
      saved.map((s) => s.customerId),
      saved.map((s) => s.status),
      saved.map((s) => JSON.stringify(s.lines)),
      saved.map((s) => s.totalCents),
    ],
  );
}

/**
 * The placed orders the commands' sales need (no lock: a placed order never changes). An order sales's own consumer
 * of OrderPlaced has not delivered yet (it lags, or its message waits out the ack wait of a pod that went away) is
 * read from the event log itself and recorded here, as that consumer would have: the payment is confirmed now
 * instead of waiting, and dead-lettered only if the log has no OrderPlaced for it either (ADR 0062).
 */
async function loadPlacedOrders(
  tx: Tx,
  commands: ReadonlyArray<{ command: SaleCommand }>,
  log: EventLog | undefined,
): Promise<PlacedOrders> {
  const ids = [...new Set(commands.flatMap(({ command }) => (command.type === 'ConfirmSale' ? [command.orderId] : [])))];
  if (ids.length === 0) return new Map();
  const { rows } = await tx.query<{ order_id: string; customer_id: string; total_cents: string }>(
    'SELECT order_id, customer_id, total_cents FROM placed_orders WHERE order_id = ANY($1::uuid[])',
    [ids],
  );
  const placed = new Map(rows.map((row) => [row.order_id, { customerId: row.customer_id, totalCents: Number(row.total_cents) }]));
  const missing = ids.filter((id) => !placed.has(id));
  if (missing.length === 0 || !log) return placed;
  const found = (await log(missing.map((id) => eventSubject('order', id, 'OrderPlaced')))).flatMap((event) =>
    event?.type === 'OrderPlaced' && missing.includes(event.data.orderId) ? [event] : [],
  );
  await recordPlacedOrders(tx, found);
  for (const { data } of found) placed.set(data.orderId, { customerId: data.customerId, totalCents: data.totalCents });
  return placed;
}

/** Sales's rules over its rows; `log` is where an order not yet recorded here is looked up (none: refused, retried). */
export const salesHandler = (log?: EventLog): CommandHandler<Sale, SaleCommand, SaleEvent, PlacedOrders> => ({
  initialState: { status: 'NONE' },
  load: (tx, ids) => lockRows(tx, SALES, ids, fromRow),
  decide: (state, command, placed) => {
    try {
      return decideSale(state, command, placed);
    } catch (error) {
      if (error instanceof UnknownOrderError) refusedPayments.inc({ reason: 'unknown-order' });
      if (error instanceof PaymentMismatchError) refusedPayments.inc({ reason: 'mismatch' });
      throw error;
    }
  },
  shared: { load: (tx, commands) => loadPlacedOrders(tx, commands, log), evolve: (placed) => placed },
  evolve: evolveSale,
  save: saveSales,
  tombstone: { cancels: (command) => command.type === 'VoidSale', state: (orderId) => ({ status: 'VOIDED', orderId }) },
});

export const salesReaction = (log?: EventLog): Reaction<DomainEvent, Sale, SaleCommand> => ({
  spec: { stream: EVENTS_STREAM, durable: SALES_CONSUMER, filterSubjects: ['PaymentAccepted', 'OrderCancelled'].map(eventTypeFilter) },
  react: commandFor,
  actor: 'sales-service',
  handler: salesHandler(log),
});

/** Records the orders of a batch of OrderPlaced in one statement; a replay or redelivery changes nothing. */
export async function recordPlacedOrders(db: Pick<Db, 'query'>, events: readonly DomainEvent[]): Promise<void> {
  const placed = events.flatMap((event) => (event.type === 'OrderPlaced' ? [event.data] : []));
  if (placed.length === 0) return;
  await db.query(
    `INSERT INTO placed_orders (order_id, customer_id, total_cents)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[])
     ON CONFLICT (order_id) DO NOTHING`,
    [placed.map((order) => order.orderId), placed.map((order) => order.customerId), placed.map((order) => order.totalCents)],
  );
}

/** Sales learns which orders exist from OrderPlaced, through a durable consumer of its own (no inbox: an upsert). */
export function placedOrdersConsumer(deps: Pick<ServiceDeps, 'db'>): ConsumerDefinition {
  return {
    spec: { stream: EVENTS_STREAM, durable: PLACED_ORDERS_CONSUMER, filterSubjects: [eventTypeFilter('OrderPlaced')] },
    handleBatch: (items: readonly BatchItem<DomainEvent>[]) =>
      recordPlacedOrders(
        deps.db,
        items.map((item) => item.message),
      ),
  };
}

const logLookups = counter({
  name: 'sales_order_log_lookups_total',
  help: 'Orders of payments that sales had not recorded as placed, looked up in EVENTS: found, absent (not in the log, or not on the replica that answered, yet) or failed (the log could not be read: the payment waits for sales-orders, as before ADR 0062).',
  labelNames: ['outcome'] as const,
});

/**
 * EVENTS read by subject, never failing a batch: a log that cannot be read (NATS away, a stream that does not allow
 * direct gets yet, as before an upgrade's operator applied it) answers "none", and the payment is retried as it was
 * before ADR 0062, waiting for sales-orders.
 */
export function orderLog(deps: Pick<ServiceDeps, 'nc' | 'log'>): EventLog {
  const read = eventLog(deps.nc);
  return async (subjects) => {
    try {
      const found = await read(subjects);
      for (const event of found) logLookups.inc({ outcome: event ? 'found' : 'absent' });
      return found;
    } catch (error) {
      logLookups.inc({ outcome: 'failed' }, subjects.length);
      deps.log.warn({ err: error, orders: subjects.length }, 'EVENTS could not be read by subject: the payments wait for sales-orders');
      return subjects.map(() => undefined);
    }
  };
}

/** The consumers this slice runs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a reaction's consumer decodes its own message type
export const salesConsumers = (deps: ServiceDeps): ConsumerDefinition<any>[] => [
  ...reactionConsumers(salesReaction(orderLog(deps)))(deps),
  placedOrdersConsumer(deps),
];
