import { type Db, ValidationError } from '@jetsaga/platform';
import { ENTRY_COLUMNS, storedEntry } from '../chain/store.js';
import type { StoredEntry } from '../chain/chain.js';

/** An entry as the API shows it. */
export function entryView(entry: StoredEntry) {
  return {
    position: entry.position,
    eventId: entry.eventId,
    streamSequence: entry.streamSequence,
    type: entry.type,
    aggregateType: entry.aggregateType,
    aggregateId: entry.aggregateId,
    correlationId: entry.correlationId,
    actor: entry.actor,
    occurredAt: entry.occurredAt,
    recordedAt: entry.recordedAt,
    tags: [...entry.tags],
    hash: entry.hash.toString('hex'),
    envelope: entry.envelope as Record<string, unknown>,
  };
}

export type EntryView = ReturnType<typeof entryView>;

export type EntryFilter = {
  aggregateType?: string;
  aggregateId?: string;
  actor?: string;
  type?: string;
  tag?: string;
  correlationId?: string;
  from?: string;
  to?: string;
  q?: string;
};

function cursorOf(position: number): string {
  return Buffer.from(JSON.stringify({ p: position })).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  try {
    const { p } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p?: unknown };
    if (typeof p === 'number' && Number.isSafeInteger(p) && p >= 0) return p;
  } catch {
    // refused below
  }
  throw new ValidationError('the cursor is not one this API returned', [{ field: 'after', reason: 'invalid cursor' }]);
}

/** The WHERE clause of a filter (values as parameters); `occurred_at` bounds are [from, to). */
function where(filter: EntryFilter, params: unknown[]): string[] {
  const clauses: string[] = [];
  if (filter.aggregateType) clauses.push(`aggregate_type = $${params.push(filter.aggregateType)}`);
  if (filter.aggregateId) clauses.push(`aggregate_id = $${params.push(filter.aggregateId)}`);
  if (filter.actor) clauses.push(`actor = $${params.push(filter.actor)}`);
  if (filter.type) clauses.push(`type = $${params.push(filter.type)}`);
  if (filter.tag) clauses.push(`tags @> ARRAY[$${params.push(filter.tag)}]::text[]`);
  if (filter.correlationId) clauses.push(`correlation_id = $${params.push(filter.correlationId)}`);
  if (filter.from) clauses.push(`occurred_at >= $${params.push(filter.from)}`);
  if (filter.to) clauses.push(`occurred_at < $${params.push(filter.to)}`);
  if (filter.q) clauses.push(`search @@ websearch_to_tsquery('simple', $${params.push(filter.q)})`);
  return clauses;
}

/** A page of entries in chain order; `next` is the cursor of the following page, null on the last. */
export async function listEntries(db: Pick<Db, 'query'>, filter: EntryFilter & { after?: string; limit: number }) {
  const params: unknown[] = [];
  const clauses = where(filter, params);
  if (filter.after) clauses.push(`position > $${params.push(decodeCursor(filter.after))}`);
  const { rows } = await db.query(
    `SELECT ${ENTRY_COLUMNS} FROM entries ${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''}
     ORDER BY position LIMIT ${filter.limit + 1}`,
    params,
  );
  const page = rows.slice(0, filter.limit).map((row) => entryView(storedEntry(row)));
  const last = page.at(-1);
  return { entries: page, next: rows.length > filter.limit && last ? cursorOf(last.position) : null };
}

/** Every entry of a filter up to `max` (a report), with the full count and the count by event type. */
export async function reportEntries(db: Pick<Db, 'query'>, filter: EntryFilter, max: number) {
  const params: unknown[] = [];
  const clauses = where(filter, params);
  const whereSql = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
  const { rows: counts } = await db.query<{ type: string; count: number }>(
    `SELECT type, count(*)::int AS count FROM entries ${whereSql} GROUP BY type ORDER BY type`,
    params,
  );
  const { rows } = await db.query(`SELECT ${ENTRY_COLUMNS} FROM entries ${whereSql} ORDER BY position LIMIT ${max}`, params);
  const total = counts.reduce((sum, row) => sum + row.count, 0);
  return {
    total,
    byType: Object.fromEntries(counts.map((row) => [row.type, row.count])),
    entries: rows.map((row) => entryView(storedEntry(row))),
    truncated: total > rows.length,
  };
}
