import { envelopeSchema } from '@jetsaga/events';
import { type Tx, PermanentError } from '@jetsaga/platform';
import { type ChainedEntry, chainHash, GENESIS_HASH } from '../chain/chain.js';
import { tagsFor } from '../compliance/rules.js';

/** The transaction-scoped advisory lock every append (and checkpoint) takes: one writer of the chain at a time. */
export const CHAIN_LOCK = 'jetsaga:audit:chain';

/** An event as it arrived: the parsed JSON, untouched, and its envelope fields checked. */
export type Arrived = {
  envelope: Record<string, unknown>;
  id: string;
  type: string;
  aggregateType: string;
  aggregateId: string;
  correlationId: string;
  actor: string;
  occurredAt: string;
  data: unknown;
};

/**
 * Reads a message as published: any event whose envelope is valid, whatever its type or schema version (the trail
 * keeps what was on the wire, including types this build does not know and ciphertext it cannot read). A message
 * that is not a JSON envelope is poison (dead-lettered at once).
 */
export function decodeArrived(data: Uint8Array): Arrived {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch (error) {
    throw new PermanentError('the message is not JSON', { cause: error });
  }
  const envelope = envelopeSchema.safeParse(parsed);
  if (!envelope.success) throw new PermanentError(`the message is not an event envelope: ${envelope.error.message}`);
  const { id, type, aggregateType, aggregateId, correlationId, actor, occurredAt, data: eventData } = envelope.data;
  return {
    envelope: parsed as Record<string, unknown>,
    id: id.toLowerCase(),
    type,
    aggregateType,
    aggregateId,
    correlationId,
    actor,
    occurredAt,
    data: eventData,
  };
}

export type Arrival = { event: Arrived; subject: string; streamSequence: number };

export type Head = { position: number; hash: Buffer };

export async function chainHead(tx: Pick<Tx, 'query'>): Promise<Head> {
  const { rows } = await tx.query<{ position: number; hash: Buffer }>('SELECT position, hash FROM entries ORDER BY position DESC LIMIT 1');
  return rows[0] ?? { position: 0, hash: GENESIS_HASH };
}

/**
 * The entries a batch appends after `head`, chained, in arrival (stream) order: events already in the trail and
 * second copies within the batch are left out, so each event id is in the trail once. Pure.
 */
export function chainArrivals(
  head: Head,
  arrivals: readonly Arrival[],
  known: ReadonlySet<string>,
  recordedAt: string,
): Array<ChainedEntry & { hash: Buffer }> {
  const seen = new Set(known);
  const entries: Array<ChainedEntry & { hash: Buffer }> = [];
  let { position, hash } = head;
  for (const { event, subject, streamSequence } of arrivals) {
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    position++;
    const entry: ChainedEntry = {
      position,
      eventId: event.id,
      streamSequence,
      subject,
      type: event.type,
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      correlationId: event.correlationId,
      actor: event.actor,
      occurredAt: new Date(event.occurredAt).toISOString(),
      recordedAt,
      tags: tagsFor(event.type, event.data),
      envelope: event.envelope,
    };
    hash = chainHash(hash, entry);
    entries.push({ ...entry, hash });
  }
  return entries;
}

/**
 * Appends a batch in the caller's transaction, under the chain lock: reads the head, leaves out what is already
 * there, inserts the rest in one statement. Returns what it appended.
 */
export async function appendArrivals(tx: Tx, arrivals: readonly Arrival[], recordedAt: string) {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [CHAIN_LOCK]);
  const head = await chainHead(tx);
  const { rows } = await tx.query<{ event_id: string }>('SELECT event_id FROM entries WHERE event_id = ANY($1::uuid[])', [
    arrivals.map((arrival) => arrival.event.id),
  ]);
  const entries = chainArrivals(head, arrivals, new Set(rows.map((row) => row.event_id)), recordedAt);
  if (entries.length === 0) return entries;
  await tx.query(
    `INSERT INTO entries (position, event_id, stream_sequence, subject, type, aggregate_type, aggregate_id, correlation_id,
                          actor, occurred_at, recorded_at, tags, envelope, hash)
     SELECT r.position, r.event_id, r.stream_sequence, r.subject, r.type, r.aggregate_type, r.aggregate_id, r.correlation_id,
            r.actor, r.occurred_at, r.recorded_at, r.tags, r.envelope, decode(r.hash, 'hex')
     FROM jsonb_to_recordset($1::jsonb) AS r(position bigint, event_id uuid, stream_sequence bigint, subject text, type text,
          aggregate_type text, aggregate_id text, correlation_id text, actor text, occurred_at timestamptz,
          recorded_at timestamptz, tags text[], envelope jsonb, hash text)`,
    [
      JSON.stringify(
        entries.map((entry) => ({
          position: entry.position,
          event_id: entry.eventId,
          stream_sequence: entry.streamSequence,
          subject: entry.subject,
          type: entry.type,
          aggregate_type: entry.aggregateType,
          aggregate_id: entry.aggregateId,
          correlation_id: entry.correlationId,
          actor: entry.actor,
          occurred_at: entry.occurredAt,
          recorded_at: entry.recordedAt,
          tags: entry.tags,
          envelope: entry.envelope,
          hash: entry.hash.toString('hex'),
        })),
      ),
    ],
  );
  return entries;
}
