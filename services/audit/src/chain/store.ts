import type { KeyObject } from 'node:crypto';
import type { Db, Tx } from '@jetsaga/platform';
import { chainHead } from '../entries/append.js';
import { CHAIN_LOCK } from '../entries/append.js';
import { type Broken, ChainVerifier, GENESIS_HASH, type StoredCheckpoint, type StoredEntry } from './chain.js';
import { checkpointSignatureValid, type SigningKey, signCheckpoint } from './signing.js';

type EntryRow = {
  position: number;
  event_id: string;
  stream_sequence: number;
  subject: string;
  type: string;
  aggregate_type: string;
  aggregate_id: string;
  correlation_id: string;
  actor: string;
  occurred_at: Date;
  recorded_at: Date;
  tags: string[];
  envelope: unknown;
  hash: Buffer;
};

export const ENTRY_COLUMNS = `position, event_id, stream_sequence, subject, type, aggregate_type, aggregate_id, correlation_id, actor,
  occurred_at, recorded_at, tags, envelope, hash`;

/** A row as the chain sees it (the same fields it was hashed from when appended). */
export function storedEntry(row: EntryRow): StoredEntry {
  return {
    position: row.position,
    eventId: row.event_id,
    streamSequence: row.stream_sequence,
    subject: row.subject,
    type: row.type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    correlationId: row.correlation_id,
    actor: row.actor,
    occurredAt: row.occurred_at.toISOString(),
    recordedAt: row.recorded_at.toISOString(),
    tags: row.tags,
    envelope: row.envelope,
    hash: row.hash,
  };
}

type CheckpointRow = { position: number; hash: Buffer; signed_at: Date; key_id: string; signature: Buffer };

const checkpointOf = (row: CheckpointRow): StoredCheckpoint => ({
  position: row.position,
  hash: row.hash,
  signedAt: row.signed_at.toISOString(),
  keyId: row.key_id,
  signature: row.signature,
});

export const checkpointView = (checkpoint: StoredCheckpoint) => ({
  position: checkpoint.position,
  hash: checkpoint.hash.toString('hex'),
  signedAt: checkpoint.signedAt,
  keyId: checkpoint.keyId,
  signature: checkpoint.signature.toString('base64'),
});

export async function lastCheckpoint(db: Pick<Db, 'query'>): Promise<StoredCheckpoint | undefined> {
  const { rows } = await db.query<CheckpointRow>('SELECT * FROM checkpoints ORDER BY position DESC LIMIT 1');
  return rows[0] ? checkpointOf(rows[0]) : undefined;
}

/**
 * Signs the chain head in the caller's transaction (under the chain lock, so the head cannot move meanwhile), unless
 * it is signed already or the trail is empty. Returns the checkpoint at the head, new or not.
 */
export async function checkpointHead(
  tx: Tx,
  key: SigningKey,
  signedAt: string,
): Promise<{ checkpoint?: StoredCheckpoint; created: boolean }> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [CHAIN_LOCK]);
  const head = await chainHead(tx);
  if (head.position === 0) return { created: false };
  const last = await lastCheckpoint(tx);
  if (last && last.position >= head.position) return { checkpoint: last, created: false };
  const checkpoint = signCheckpoint(key, head.position, head.hash, signedAt);
  await insertCheckpoint(tx, checkpoint);
  return { checkpoint, created: true };
}

export async function insertCheckpoint(tx: Pick<Tx, 'query'>, checkpoint: StoredCheckpoint): Promise<void> {
  await tx.query('INSERT INTO checkpoints (position, hash, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5)', [
    checkpoint.position,
    checkpoint.hash,
    checkpoint.signedAt,
    checkpoint.keyId,
    checkpoint.signature,
  ]);
}

export type VerifyResult = {
  ok: boolean;
  from: number;
  to: number;
  checked: number;
  checkpoints: number;
  firstBroken: Broken | null;
};

/** Rows read per round trip while verifying. */
const PAGE = 2000;

/**
 * Recomputes the chain from `from` to `to` (default: the whole trail, up to the last checkpoint if that is further
 * than the last entry) and checks the signature of every checkpoint in the range. Reads in pages; a concurrent append
 * only adds positions past `to`, fixed when this starts.
 */
export async function verifyRange(
  db: Pick<Db, 'query'>,
  publicKeys: ReadonlyMap<string, KeyObject>,
  range: { from?: number; to?: number },
): Promise<VerifyResult> {
  const head = await chainHead(db);
  const last = await lastCheckpoint(db);
  const end = Math.max(head.position, last?.position ?? 0);
  const from = range.from ?? 1;
  const to = Math.min(range.to ?? end, end);
  const empty = { ok: true, from, to, checked: 0, checkpoints: 0, firstBroken: null };
  if (to < from) return empty;
  const verdict = (broken: Broken | undefined, checked: number, checkpoints: number): VerifyResult => ({
    ok: !broken,
    from,
    to,
    checked,
    checkpoints,
    firstBroken: broken ?? null,
  });

  let previous: Buffer = GENESIS_HASH;
  if (from > 1) {
    const { rows } = await db.query<{ hash: Buffer }>('SELECT hash FROM entries WHERE position = $1', [from - 1]);
    if (!rows[0])
      return verdict(
        { position: from - 1, id: null, reason: 'missing-position', detail: `position ${from - 1} (the anchor of the range) is missing` },
        0,
        0,
      );
    previous = rows[0].hash;
  }
  const { rows: checkpointRows } = await db.query<CheckpointRow>(
    'SELECT * FROM checkpoints WHERE position BETWEEN $1 AND $2 ORDER BY position',
    [from, to],
  );
  const checkpoints = new Map(checkpointRows.map((row) => [row.position, checkpointOf(row)]));
  const verifier = new ChainVerifier(from, previous, checkpoints, (checkpoint) => checkpointSignatureValid(publicKeys, checkpoint));
  let after = from - 1;
  for (;;) {
    const { rows } = await db.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE position > $1 AND position <= $2 ORDER BY position LIMIT ${PAGE}`,
      [after, to],
    );
    for (const row of rows) if (!verifier.push(storedEntry(row))) return verdict(verifier.firstBroken, verifier.checked, checkpoints.size);
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.position;
  }
  return verdict(verifier.finish(to), verifier.checked, checkpoints.size);
}
