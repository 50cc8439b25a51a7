import { type DomainEvent, envelopeSchema } from '@jetsaga/events';
import { currentOf } from '../projections/current.js';

/** A message of the EVENTS stream as the mirror keeps it. */
export type MirrorRecord = {
  position: number;
  subject: string;
  payload: string;
  storedAt: string;
  valid: boolean;
  id: string | null;
  type: string | null;
  schemaVersion: number | null;
  aggregateType: string | null;
  aggregateId: string | null;
  occurredAt: string | null;
  correlationId: string | null;
  causationId: string | null;
  actor: string | null;
  data: unknown;
  /** The envelope read as the current version of its type, for the projections fed from the batch; absent if it cannot be. */
  event?: DomainEvent;
};

/**
 * Every message is mirrored, even one that is not a valid envelope: the mirror must equal the stream. Only a valid
 * envelope's fields are copied out for queries (its data as stored; upcasting happens when it is read). This is the
 * one place a mirrored payload is parsed and validated: the projections fed from the batch use `event`.
 */
export function toRecord(position: number, subject: string, payload: string, storedAt: string): MirrorRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    parsed = undefined;
  }
  const envelope = envelopeSchema.safeParse(parsed);
  if (!envelope.success) {
    return {
      position,
      subject,
      payload,
      storedAt,
      valid: false,
      id: null,
      type: null,
      schemaVersion: null,
      aggregateType: null,
      aggregateId: null,
      occurredAt: null,
      correlationId: null,
      causationId: null,
      actor: null,
      data: null,
    };
  }
  const e = envelope.data;
  return {
    position,
    subject,
    payload,
    storedAt,
    valid: true,
    id: e.id,
    type: e.type,
    schemaVersion: e.schemaVersion,
    aggregateType: e.aggregateType,
    aggregateId: e.aggregateId,
    occurredAt: e.occurredAt,
    correlationId: e.correlationId,
    causationId: e.causationId,
    actor: e.actor,
    data: e.data ?? null,
    event: currentOf(e),
  };
}
