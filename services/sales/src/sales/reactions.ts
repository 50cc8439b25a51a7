import { type DomainEvent, EVENTS_STREAM, eventTypeFilter, materialize } from '@jetsaga/events';
import { type ConsumerDefinition, claimEvent, enqueueEvents, type ServiceDeps, withTransaction } from '@jetsaga/platform';
import { decideSale, type Sale, type SaleCommand, shouldVoid } from './sale.js';

export const SALES_CONSUMER = 'sales';

export function commandFor(event: DomainEvent): SaleCommand | undefined {
  switch (event.type) {
    case 'PaymentAccepted': {
      const { orderId, customerId, lines, amountCents } = event.data;
      return { type: 'ConfirmSale', orderId, customerId, lines, totalCents: amountCents };
    }
    case 'OrderCancelled':
      return { type: 'VoidSale', orderId: event.data.orderId };
    default:
      return undefined;
  }
}

export function salesConsumers(deps: ServiceDeps): ConsumerDefinition[] {
  return [
    {
      spec: {
        stream: EVENTS_STREAM,
        durable: SALES_CONSUMER,
        filterSubjects: ['PaymentAccepted', 'OrderCancelled'].map(eventTypeFilter),
      },
      handle: async (event) => {
        const command = commandFor(event);
        if (!command) return;
        await withTransaction(deps.db, async (tx) => {
          if (!(await claimEvent(tx, SALES_CONSUMER, event))) return;
          const { rows } = await tx.query<{ status: 'CONFIRMED' | 'VOIDED' }>('SELECT status FROM sales WHERE order_id = $1 FOR UPDATE', [
            command.orderId,
          ]);
          const sale: Sale = rows[0] ? { status: rows[0].status, orderId: command.orderId } : { status: 'NONE' };
          if (shouldVoid(sale, command)) {
            await tx.query("INSERT INTO sales (order_id, status, lines, total_cents) VALUES ($1, 'VOIDED', '[]'::jsonb, 0)", [
              command.orderId,
            ]);
            return;
          }
          const drafts = decideSale(sale, command);
          if (drafts.length === 0) return;
          for (const draft of drafts) {
            const { orderId, customerId, lines, totalCents } = draft.data;
            await tx.query(
              "INSERT INTO sales (order_id, customer_id, status, lines, total_cents) VALUES ($1, $2, 'CONFIRMED', $3::jsonb, $4)",
              [orderId, customerId, JSON.stringify(lines), totalCents],
            );
          }
          await enqueueEvents(
            tx,
            materialize(drafts, command.orderId, {
              correlationId: event.correlationId,
              causationId: event.id,
              actor: 'sales-service',
              occurredAt: deps.now().toISOString(),
              newId: deps.newId,
            }),
          );
        });
      },
    },
  ];
}
