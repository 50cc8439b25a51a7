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
  const result = await tx.query('INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    consumer,
    event.id,
    event.type,
  ]);
  return result.rowCount === 1;
}
