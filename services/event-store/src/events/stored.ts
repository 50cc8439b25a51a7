import { type DomainEvent, parseEvent } from '@jetsaga/events';
import type { Db, Tx } from '@jetsaga/platform';

/** A mirrored event as the query API returns it: the envelope as stored, plus its stream position. */
export type StoredEvent = {
  position: number;
  id: string;
  type: string;
  schemaVersion: number;
  aggregateType: string;
  aggregateId: string;
  occurredAt: string;
  correlationId: string;
  causationId: string;
  actor: string;
  data: unknown;
};

export const EVENT_COLUMNS =
  'position, id, type, schema_version, aggregate_type, aggregate_id, occurred_at, correlation_id, causation_id, actor, data';

export type EventRow = {
  position: number;
  id: string;
  type: string;
  schema_version: number;
  aggregate_type: string;
  aggregate_id: string;
  occurred_at: Date;
  correlation_id: string;
  causation_id: string;
  actor: string;
  data: unknown;
};

export function fromRow(row: EventRow): StoredEvent {
  return {
    position: row.position,
    id: row.id,
    type: row.type,
    schemaVersion: row.schema_version,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    occurredAt: row.occurred_at.toISOString(),
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    actor: row.actor,
    data: row.data,
  };
}

/** Reads a stored event as the current schema version of its type (upcasting older ones); undefined if unknown. */
export function asCurrent(event: StoredEvent): (DomainEvent & { position: number }) | undefined {
  try {
    const { position, ...envelope } = event;
    return { ...parseEvent(envelope), position };
  } catch {
    return undefined;
  }
}

export async function selectEvents(db: Db | Tx, where: string, params: unknown[], suffix = 'ORDER BY position'): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE valid AND ${where} ${suffix}`, params);
  return rows.map(fromRow);
}
