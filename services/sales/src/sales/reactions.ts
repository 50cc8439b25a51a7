import { type DomainEvent, EVENTS_STREAM, eventTypeFilter, type OrderLine } from '@jetsaga/events';
import { type Addressed, type Change, type CommandHandler, lockRows, type Reaction, reactionConsumers, type Tx } from '@jetsaga/platform';
import { decideSale, evolveSale, type Sale, type SaleCommand, type SaleEvent } from './sale.js';

export const SALES_CONSUMER = 'sales';

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

export const sales: CommandHandler<Sale, SaleCommand, SaleEvent> = {
  initialState: { status: 'NONE' },
  load: (tx, ids) => lockRows(tx, SALES, ids, fromRow),
  decide: (state, command) => decideSale(state, command),
  evolve: evolveSale,
  save: saveSales,
  tombstone: { cancels: (command) => command.type === 'VoidSale', state: (orderId) => ({ status: 'VOIDED', orderId }) },
};

export const salesReaction: Reaction<DomainEvent, Sale, SaleCommand> = {
  spec: { stream: EVENTS_STREAM, durable: SALES_CONSUMER, filterSubjects: ['PaymentAccepted', 'OrderCancelled'].map(eventTypeFilter) },
  react: commandFor,
  actor: 'sales-service',
  handler: sales,
};

/** The consumers this slice runs. */
export const salesConsumers = reactionConsumers(salesReaction);
