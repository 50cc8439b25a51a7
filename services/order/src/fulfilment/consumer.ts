import { dlqRedriveSubject, EVENTS_STREAM, eventTypeFilter } from '@jetsaga/events';
import {
  type ConsumerDefinition,
  DLQ_HEADERS,
  type Db,
  type Delivery,
  type ServiceDeps,
  type Tx,
  withTransaction,
} from '@jetsaga/platform';
import { type Fulfilment, FULFILMENT_EVENT_TYPES, type FulfilmentRow, foldFulfilments, type SequencedEvent } from './projection.js';

export const FULFILMENT_CONSUMER = 'order-fulfilment';

/** The EVENTS sequence of the event, also for a dead letter put back by the redrive API (it names the original's). */
function eventSequence(delivery: Delivery): number {
  if (delivery.subject !== dlqRedriveSubject(FULFILMENT_CONSUMER)) return delivery.streamSequence;
  const original = Number(delivery.headers[DLQ_HEADERS.sequence]);
  return Number.isSafeInteger(original) && original > 0 ? original : delivery.streamSequence;
}

type Row = { order_id: string; shipment_id: string; fulfilment: Fulfilment; resumes: Fulfilment; event_sequence: string };

/** One batch: the rows of its orders, locked, folded in memory, written back in one statement. */
export async function projectFulfilments(tx: Tx, events: readonly SequencedEvent[]): Promise<void> {
  const orderIds = [
    ...new Set(
      events.flatMap(({ event }) => ((event.data as { orderId?: string }).orderId ? [(event.data as { orderId: string }).orderId] : [])),
    ),
  ];
  if (orderIds.length === 0) return;
  const { rows } = await tx.query<Row>(
    'SELECT order_id, shipment_id, fulfilment, resumes, event_sequence FROM fulfilments WHERE order_id = ANY($1::uuid[]) ORDER BY order_id FOR UPDATE',
    [orderIds],
  );
  const start = new Map(
    rows.map((row): [string, FulfilmentRow] => [
      row.order_id,
      {
        orderId: row.order_id,
        shipmentId: row.shipment_id,
        fulfilment: row.fulfilment,
        resumes: row.resumes,
        sequence: Number(row.event_sequence),
      },
    ]),
  );
  const changed = [...foldFulfilments(start, events).values()];
  if (changed.length === 0) return;
  await tx.query(
    `INSERT INTO fulfilments (order_id, shipment_id, fulfilment, resumes, event_sequence)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[])
     ON CONFLICT (order_id) DO UPDATE SET shipment_id = EXCLUDED.shipment_id, fulfilment = EXCLUDED.fulfilment,
       resumes = EXCLUDED.resumes, event_sequence = EXCLUDED.event_sequence`,
    [
      changed.map((row) => row.orderId),
      changed.map((row) => row.shipmentId),
      changed.map((row) => row.fulfilment),
      changed.map((row) => row.resumes),
      changed.map((row) => row.sequence),
    ],
  );
}

/** The order's fulfilment as GET /api/orders/:id shows it: NONE until shipping opened a parcel. */
export async function loadFulfilment(db: Pick<Db, 'query'>, orderId: string): Promise<Fulfilment> {
  const { rows } = await db.query<{ fulfilment: Fulfilment }>('SELECT fulfilment FROM fulfilments WHERE order_id = $1', [orderId]);
  return rows[0]?.fulfilment ?? 'NONE';
}

/**
 * Order learns where its parcel is from shipping's events, as a read model of its own (no inbox claim: the sequence
 * guard makes a redelivery or a replay change nothing).
 */
export function fulfilmentConsumers(deps: Pick<ServiceDeps, 'db'>): ConsumerDefinition[] {
  return [
    {
      spec: { stream: EVENTS_STREAM, durable: FULFILMENT_CONSUMER, filterSubjects: FULFILMENT_EVENT_TYPES.map(eventTypeFilter) },
      handleBatch: (items) =>
        withTransaction(deps.db, (tx) =>
          projectFulfilments(
            tx,
            items.map(({ message, delivery }) => ({ event: message, sequence: eventSequence(delivery) })),
          ),
        ),
    },
  ];
}
