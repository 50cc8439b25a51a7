import { type DomainEvent, EVENTS_STREAM, eventTypeFilter } from '@jetsaga/events';
import { type Addressed, type Change, type CommandHandler, lockRows, type Reaction, reactionConsumers, type Tx } from '@jetsaga/platform';
import {
  balanceDelta,
  decidePayment,
  evolvePayment,
  type Payment,
  type PaymentCommand,
  type PaymentEvent,
  type PaymentStatus,
} from './payment.js';

export const PAYMENT_CONSUMER = 'payment';

export function commandFor(event: DomainEvent): Addressed<PaymentCommand> | undefined {
  switch (event.type) {
    case 'StockReserved': {
      const { orderId, customerId, totalCents, lines } = event.data;
      return { id: orderId, command: { type: 'Charge', orderId, customerId, amountCents: totalCents, lines } };
    }
    case 'OrderCancelled':
      return { id: event.data.orderId, command: { type: 'Refund', orderId: event.data.orderId } };
    case 'RefundRequested': {
      const { refundId, orderId, customerId, amountCents, complaintId, shipmentId, incidentId } = event.data;
      return {
        id: orderId,
        command: { type: 'RequestRefund', refundId, orderId, customerId, amountCents, complaintId, shipmentId, incidentId },
      };
    }
    default:
      return undefined;
  }
}

/** Balances by customer: the state every payment of a batch decides over. */
type Balances = ReadonlyMap<string, number>;

function customerOf(command: PaymentCommand, state: Payment): string | null {
  return command.type === 'Charge' ? command.customerId : state.status === 'NONE' ? null : state.customerId;
}

const PAYMENTS = { table: 'payments', key: 'order_id', columns: 'order_id, status, customer_id, amount_cents, refunded_cents, refund_ids' };
type PaymentRow = {
  order_id: string;
  status: PaymentStatus;
  customer_id: string | null;
  amount_cents: number;
  refunded_cents: string | number;
  refund_ids: string[];
};
const fromRow = (row: PaymentRow): Payment => ({
  status: row.status,
  orderId: row.order_id,
  customerId: row.customer_id,
  amountCents: Number(row.amount_cents),
  refundedCents: Number(row.refunded_cents),
  refundIds: row.refund_ids,
});

function lockBalances(tx: Tx, customerIds: readonly string[]): Promise<Map<string, number>> {
  const customers = { table: 'customers', key: 'id', columns: 'id, balance_cents' };
  return lockRows(tx, customers, customerIds, (row: { balance_cents: number }) => row.balance_cents);
}

async function savePayments(tx: Tx, changes: readonly Change<Payment>[]): Promise<void> {
  const saved = changes.flatMap((change) => (change.state.status === 'NONE' ? [] : [change.state]));
  if (saved.length > 0) {
    await tx.query(
      `INSERT INTO payments (order_id, customer_id, amount_cents, status, refunded_cents, refund_ids)
       SELECT v.order_id, v.customer_id, v.amount_cents, v.status, v.refunded_cents, coalesce(v.refund_ids::uuid[], '{}')
       FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::bigint[], $6::text[])
         AS v(order_id, customer_id, amount_cents, status, refunded_cents, refund_ids)
       ON CONFLICT (order_id) DO UPDATE
         SET status = EXCLUDED.status, refunded_cents = EXCLUDED.refunded_cents, refund_ids = EXCLUDED.refund_ids, updated_at = now()`,
      [
        saved.map((p) => p.orderId),
        saved.map((p) => p.customerId),
        saved.map((p) => p.amountCents),
        saved.map((p) => p.status),
        saved.map((p) => p.refundedCents),
        // A uuid[] per row: unnest would flatten an array of arrays, so each travels as its Postgres literal.
        saved.map((p) => `{${p.refundIds.join(',')}}`),
      ],
    );
  }
  const deltas = new Map<string, number>();
  for (const event of changes.flatMap((change) => change.events) as unknown as PaymentEvent[]) {
    const delta = balanceDelta(event);
    if (delta !== 0) deltas.set(event.data.customerId, (deltas.get(event.data.customerId) ?? 0) + delta);
  }
  if (deltas.size === 0) return;
  await tx.query(
    `UPDATE customers c SET balance_cents = c.balance_cents + v.delta, updated_at = now()
     FROM unnest($1::uuid[], $2::bigint[]) AS v(id, delta) WHERE c.id = v.id`,
    [[...deltas.keys()], [...deltas.values()]],
  );
}

export const payments: CommandHandler<Payment, PaymentCommand, PaymentEvent, Balances> = {
  initialState: { status: 'NONE' },
  load: (tx, ids) => lockRows(tx, PAYMENTS, ids, fromRow),
  decide: (state, command, balances) => {
    const customerId = customerOf(command, state);
    return decidePayment(state, (customerId && balances.get(customerId)) || 0, command);
  },
  evolve: evolvePayment,
  shared: {
    load: (tx, commands) => lockBalances(tx, [...new Set(commands.flatMap(({ command, state }) => customerOf(command, state) ?? []))]),
    evolve: (balances, event) => {
      const delta = balanceDelta(event);
      if (delta === 0) return balances;
      const { customerId } = event.data;
      return new Map(balances).set(customerId, (balances.get(customerId) ?? 0) + delta);
    },
  },
  save: savePayments,
  tombstone: {
    cancels: (command) => command.type === 'Refund',
    state: (orderId) => ({ status: 'VOIDED', orderId, customerId: null, amountCents: 0, refundedCents: 0, refundIds: [] }),
  },
};

export const paymentReaction: Reaction<DomainEvent, Payment, PaymentCommand> = {
  spec: {
    stream: EVENTS_STREAM,
    durable: PAYMENT_CONSUMER,
    filterSubjects: ['StockReserved', 'OrderCancelled', 'RefundRequested'].map(eventTypeFilter),
  },
  react: commandFor,
  actor: 'payment-service',
  handler: payments,
};

/** The consumers this slice runs. */
export const paymentConsumers = reactionConsumers(paymentReaction);
