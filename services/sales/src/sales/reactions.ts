import { type DomainEvent, EVENTS_STREAM, eventTypeFilter, materialize } from '@jetsaga/events';
import { type ConsumerDefinition, causedBy, claimEvent, enqueueEvents, type ServiceDeps, withTransaction } from '@jetsaga/platform';
import type { OrderLine } from '@jetsaga/events';
import type { Tx } from '@jetsaga/platform';
import { decideSale, evolveSale, type Sale, type SaleCommand, shouldVoid } from './sale.js';

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

type SaleRow = { status: 'CONFIRMED' | 'CANCELLED' | 'VOIDED'; customer_id: string | null; lines: OrderLine[]; total_cents: number };

async function loadSale(tx: Tx, orderId: string): Promise<Sale> {
  const { rows } = await tx.query<SaleRow>('SELECT status, customer_id, lines, total_cents FROM sales WHERE order_id = $1 FOR UPDATE', [
    orderId,
  ]);
  const row = rows[0];
  if (!row) return { status: 'NONE' };
  if (row.status === 'VOIDED' || !row.customer_id) return { status: 'VOIDED', orderId };
  return { status: row.status, orderId, customerId: row.customer_id, lines: row.lines, totalCents: row.total_cents };
}

async function saveSale(tx: Tx, sale: Sale): Promise<void> {
  if (sale.status !== 'CONFIRMED' && sale.status !== 'CANCELLED') return;
  await tx.query(
    `INSERT INTO sales (order_id, customer_id, status, lines, total_cents) VALUES ($1, $2, $3, $4::jsonb, $5)
     ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status`,
    [sale.orderId, sale.customerId, sale.status, JSON.stringify(sale.lines), sale.totalCents],
  );
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
          const sale = await loadSale(tx, command.orderId);
          if (shouldVoid(sale, command)) {
            await tx.query("INSERT INTO sales (order_id, status, lines, total_cents) VALUES ($1, 'VOIDED', '[]'::jsonb, 0)", [
              command.orderId,
            ]);
            return;
          }
          const drafts = decideSale(sale, command);
          if (drafts.length === 0) return;
          await saveSale(tx, drafts.reduce(evolveSale, sale));
          await enqueueEvents(tx, materialize(drafts, command.orderId, causedBy(event, deps, 'sales-service')));
        });
      },
    },
  ];
}
