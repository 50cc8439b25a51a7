import type { Tx } from './db.js';

export const inboxMigration = {
  id: 'platform/002_inbox',
  sql: `
    CREATE TABLE inbox (
      consumer text NOT NULL,
      event_id uuid NOT NULL,
      event_type text NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id)
    );
  `,
};

/**
 * Claims an event for a consumer inside the transaction that applies its effect. False means it was
 * already processed: the caller skips the effect and acknowledges. Redelivery, replay and duplicates thus
 * change nothing.
 */
export async function claimEvent(tx: Tx, consumer: string, event: { id: string; type: string }): Promise<boolean> {
  return (await claimEvents(tx, consumer, [event])).size === 1;
}

/**
 * Claims a batch of events in one statement; returns the ids that were not processed before (each once, even when a
 * batch holds several copies of one event). Only the claimed ones may take effect in this transaction.
 */
export async function claimEvents(tx: Tx, consumer: string, events: ReadonlyArray<{ id: string; type: string }>): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const { rows } = await tx.query<{ event_id: string }>(
    `INSERT INTO inbox (consumer, event_id, event_type)
     SELECT $1, e.id, e.type FROM unnest($2::uuid[], $3::text[]) AS e(id, type)
     ON CONFLICT DO NOTHING RETURNING event_id`,
    [consumer, events.map((event) => event.id), events.map((event) => event.type)],
  );
  return new Set(rows.map((row) => row.event_id));
}

/** Gives back claims whose events failed inside a batch that commits the others: they are retried later. */
export async function releaseClaims(tx: Tx, consumer: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.query('DELETE FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])', [consumer, ids]);
}
