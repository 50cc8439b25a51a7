import { createHash } from 'node:crypto';
import { EVENTS_STREAM } from '@jetsaga/events';
import type { Db, NatsConnection } from '@jetsaga/platform';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';

export type RangeDigest = { count: number; hash: string };

export type Verification = {
  fromPosition: number;
  toPosition: number;
  stream: RangeDigest;
  mirror: RangeDigest;
  missing: number[];
  extra: number[];
  ok: boolean;
};

const LISTED = 1000;

/** One digest over a range: sha256 of `position:sha256(payload)` lines, so equal digests mean equal messages. */
export function digest(entries: ReadonlyArray<{ position: number; payload: string }>): RangeDigest {
  const hash = createHash('sha256');
  for (const entry of entries) {
    hash.update(`${entry.position}:${createHash('sha256').update(entry.payload).digest('hex')}\n`);
  }
  return { count: entries.length, hash: hash.digest('hex') };
}

/** Positions present on one side only, or present on both with different payloads. */
export function compare(
  stream: ReadonlyArray<{ position: number; payload: string }>,
  mirror: ReadonlyArray<{ position: number; payload: string }>,
): { missing: number[]; extra: number[] } {
  const mirrored = new Map(mirror.map((entry) => [entry.position, entry.payload]));
  const streamed = new Map(stream.map((entry) => [entry.position, entry.payload]));
  const missing = stream.filter((entry) => mirrored.get(entry.position) !== entry.payload).map((entry) => entry.position);
  const extra = mirror.filter((entry) => streamed.get(entry.position) !== entry.payload).map((entry) => entry.position);
  return { missing, extra };
}

async function readStream(nc: NatsConnection, from: number, to: number): Promise<Array<{ position: number; payload: string }>> {
  const entries: Array<{ position: number; payload: string }> = [];
  if (to < from) return entries;
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
  const messages = await consumer.consume({ max_messages: 5000 });
  for await (const msg of messages) {
    if (msg.info.streamSequence > to) break;
    entries.push({ position: msg.info.streamSequence, payload: msg.string() });
    if (msg.info.streamSequence >= to || msg.info.pending === 0) break;
  }
  messages.stop();
  return entries;
}

/**
 * Compares JetStream and the Postgres mirror over a range of stream sequences (guarantee 4: every acknowledged event
 * is mirrored exactly once). The range defaults to the whole stream.
 */
export async function verifyMirror(db: Db, nc: NatsConnection, range: { from?: number; to?: number }): Promise<Verification> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(EVENTS_STREAM);
  const fromPosition = Math.max(1, range.from ?? 1);
  const toPosition = Math.min(range.to ?? info.state.last_seq, info.state.last_seq);
  const stream = await readStream(nc, fromPosition, toPosition);
  const { rows } = await db.query<{ position: number; payload: string }>(
    'SELECT position, payload FROM events WHERE position BETWEEN $1 AND $2 ORDER BY position',
    [fromPosition, toPosition],
  );
  const { missing, extra } = compare(stream, rows);
  const streamDigest = digest(stream);
  const mirrorDigest = digest(rows);
  return {
    fromPosition,
    toPosition,
    stream: streamDigest,
    mirror: mirrorDigest,
    missing: missing.slice(0, LISTED),
    extra: extra.slice(0, LISTED),
    ok: missing.length === 0 && extra.length === 0 && streamDigest.hash === mirrorDigest.hash,
  };
}
