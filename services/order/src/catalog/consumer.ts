import { dlqRedriveSubject, EVENTS_STREAM, eventTypeFilter } from '@jetsaga/events';
import { type ConsumerDefinition, DLQ_HEADERS, type Delivery, type ServiceDeps } from '@jetsaga/platform';
import { CATALOG_EVENT_TYPES, catalogRows, isEmpty, type SequencedEvent } from './projection.js';
import { applyCatalogRows } from './store.js';

export const CATALOG_CONSUMER = 'order-catalog';

/**
 * The EVENTS sequence that stored the event. A dead letter put back by the redrive API arrives from the DLQ stream,
 * under that stream's sequence; the dead letter names the original's, and that is the event's version.
 */
export function eventSequence(delivery: Delivery): number {
  if (delivery.subject !== dlqRedriveSubject(CATALOG_CONSUMER)) return delivery.streamSequence;
  const original = Number(delivery.headers[DLQ_HEADERS.sequence]);
  return Number.isSafeInteger(original) && original > 0 ? original : delivery.streamSequence;
}

/** Applies a batch of catalogue events to the read model in one statement. */
export async function projectCatalog(deps: Pick<ServiceDeps, 'db'>, events: readonly SequencedEvent[]): Promise<void> {
  const rows = catalogRows(events);
  if (!isEmpty(rows)) await applyCatalogRows(deps.db, rows);
}

/**
 * A durable consumer of its own, delivering from the stream's first event: a new deployment builds the whole read
 * model from history before (and while) it serves, and the look-ups fall back to the owners until it has.
 * No inbox claim: the upsert's sequence guard already makes every redelivery and replay change nothing.
 */
export function catalogConsumers(deps: ServiceDeps): ConsumerDefinition[] {
  return [
    {
      spec: { stream: EVENTS_STREAM, durable: CATALOG_CONSUMER, filterSubjects: CATALOG_EVENT_TYPES.map(eventTypeFilter) },
      // A pulled batch in one statement; a batch that fails is retried one event at a time by the consumer.
      handleBatch: (items) =>
        projectCatalog(
          deps,
          items.map(({ message, delivery }) => ({ event: message, sequence: eventSequence(delivery) })),
        ),
    },
  ];
}
