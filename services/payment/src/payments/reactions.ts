import { type DomainEvent, EVENTS_STREAM, eventTypeFilter, materialize } from '@jetsaga/events';
import {
  type ConsumerDefinition,
  causedBy,
  claimEvent,
  enqueueEvents,
  type ServiceDeps,
  type Tx,
  withTransaction,
} from '@jetsaga/platform';
import { balanceDelta, decidePayment, evolvePayment, type Payment, type PaymentCommand, type PaymentStatus } from './payment.js';

export const PAYMENT_CONSUMER = 'payment';

export function commandFor(event: DomainEvent): PaymentCommand | undefined {
  switch (event.type) {
    case 'StockReserved': {
      const { orderId, customerId, totalCents, lines } = event.data;
      return { type: 'Charge', orderId, customerId, amountCents: totalCents, lines };
    }
    case 'OrderCancelled':
      return { type: 'Refund', orderId: event.data.orderId };
    default:
      return undefined;
  }
}

async function loadPayment(tx: Tx, orderId: string): Promise<Payment> {
  const { rows } = await tx.query<{ status: PaymentStatus; customer_id: string | null; amount_cents: number }>(
    'SELECT status, customer_id, amount_cents FROM payments WHERE order_id = $1 FOR UPDATE',
    [orderId],
  );
  const row = rows[0];
  return row ? { status: row.status, orderId, customerId: row.customer_id, amountCents: row.amount_cents } : { status: 'NONE' };
}

async function savePayment(tx: Tx, payment: Payment): Promise<void> {
  if (payment.status === 'NONE') return;
  await tx.query(
    `INSERT INTO payments (order_id, customer_id, amount_cents, status) VALUES ($1, $2, $3, $4)
     ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()`,
    [payment.orderId, payment.customerId, payment.amountCents, payment.status],
  );
}

export function paymentConsumers(deps: ServiceDeps): ConsumerDefinition[] {
  return [
    {
      spec: {
        stream: EVENTS_STREAM,
        durable: PAYMENT_CONSUMER,
        filterSubjects: ['StockReserved', 'OrderCancelled'].map(eventTypeFilter),
      },
      handle: async (event) => {
        const command = commandFor(event);
        if (!command) return;
        await withTransaction(deps.db, async (tx) => {
          if (!(await claimEvent(tx, PAYMENT_CONSUMER, event))) return;
          const payment = await loadPayment(tx, command.orderId);
          if (payment.status === 'NONE' && command.type === 'Refund') {
            // Cancelled before payment was asked for: a tombstone makes a late charge request a no-op.
            await savePayment(tx, { status: 'VOIDED', orderId: command.orderId, customerId: null, amountCents: 0 });
            return;
          }
          const customerId = command.type === 'Charge' ? command.customerId : payment.status === 'NONE' ? null : payment.customerId;
          const { rows } = await tx.query<{ balance_cents: number }>('SELECT balance_cents FROM customers WHERE id = $1 FOR UPDATE', [
            customerId,
          ]);
          const balance = rows[0]?.balance_cents ?? 0;
          const drafts = decidePayment(payment, balance, command);
          if (drafts.length === 0) return;
          await savePayment(tx, drafts.reduce(evolvePayment, payment));
          const delta = drafts.reduce((sum, draft) => sum + balanceDelta(draft), 0);
          if (delta !== 0) {
            await tx.query('UPDATE customers SET balance_cents = balance_cents + $2, updated_at = now() WHERE id = $1', [
              customerId,
              delta,
            ]);
          }
          await enqueueEvents(tx, materialize(drafts, command.orderId, causedBy(event, deps, 'payment-service')));
        });
      },
    },
  ];
}
