import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';

/** The previous hash of position 1: 32 zero bytes. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

/**
 * One entry of the trail as it is chained: every stored column that a reader relies on (the search filters on the
 * columns, the trail shows the envelope), so changing any of them breaks the chain at that entry.
 */
export type ChainedEntry = {
  position: number;
  eventId: string;
  streamSequence: number;
  subject: string;
  type: string;
  aggregateType: string;
  aggregateId: string;
  correlationId: string;
  actor: string;
  /** ISO 8601 with milliseconds, as stored (the column is written from this string). */
  occurredAt: string;
  recordedAt: string;
  /** Sorted. */
  tags: readonly string[];
  /** The event exactly as published: its envelope (personal fields are what was on the wire, ciphertext or not). */
  envelope: unknown;
};

/** The bytes that are hashed for an entry. */
export function canonicalEntry(entry: ChainedEntry): string {
  // Field by field: a stored entry also carries its own hash, which is not part of what is hashed.
  return canonicalJson({
    position: entry.position,
    eventId: entry.eventId,
    streamSequence: entry.streamSequence,
    subject: entry.subject,
    type: entry.type,
    aggregateType: entry.aggregateType,
    aggregateId: entry.aggregateId,
    correlationId: entry.correlationId,
    actor: entry.actor,
    occurredAt: entry.occurredAt,
    recordedAt: entry.recordedAt,
    tags: [...entry.tags],
    envelope: entry.envelope,
  });
}

/** hash(n) = sha256(hash(n-1) || canonical entry n). */
export function chainHash(previous: Buffer, entry: ChainedEntry): Buffer {
  return createHash('sha256').update(previous).update(canonicalEntry(entry), 'utf8').digest();
}

/** Why an entry breaks the chain; the first of these from the start of a range is what verify names. */
export type BrokenReason = 'hash-mismatch' | 'missing-position' | 'checkpoint-mismatch' | 'signature-invalid';

export type Broken = { position: number; id: string | null; reason: BrokenReason; detail: string };

export type StoredEntry = ChainedEntry & { hash: Buffer };

export type StoredCheckpoint = { position: number; hash: Buffer; signedAt: string; keyId: string; signature: Buffer };

/** Whether a checkpoint's signature is one of the trail's keys over exactly its position, hash and time. */
export type SignatureCheck = (checkpoint: StoredCheckpoint) => boolean;

/**
 * Recomputes the chain over one range of positions, entry by entry in position order (fed page by page), and checks
 * each checkpoint that falls on it: its hash must be the recomputed one and its signature valid. Pure: the rows, the
 * checkpoints and the signature check come in.
 */
export class ChainVerifier {
  private expected: number;
  private previous: Buffer;
  private broken: Broken | undefined;
  checked = 0;

  constructor(
    from: number,
    previousHash: Buffer,
    private readonly checkpoints: ReadonlyMap<number, StoredCheckpoint>,
    private readonly signatureValid: SignatureCheck,
  ) {
    this.expected = from;
    this.previous = previousHash;
  }

  get firstBroken(): Broken | undefined {
    return this.broken;
  }

  /** Takes the next stored entry; false once the chain is broken (the rest of the range proves nothing more). */
  push(entry: StoredEntry): boolean {
    if (this.broken) return false;
    if (entry.position !== this.expected) {
      this.broken = {
        position: this.expected,
        id: null,
        reason: 'missing-position',
        detail: `position ${this.expected} is missing (the next entry is at ${entry.position})`,
      };
      return false;
    }
    const hash = chainHash(this.previous, entry);
    if (!hash.equals(entry.hash)) {
      this.broken = {
        position: entry.position,
        id: entry.eventId,
        reason: 'hash-mismatch',
        detail: `the stored hash is not sha256(previous hash || this entry): the entry or one before it was changed`,
      };
      return false;
    }
    this.checked++;
    const checkpoint = this.checkpoints.get(entry.position);
    if (checkpoint) {
      if (!checkpoint.hash.equals(hash)) {
        this.broken = {
          position: entry.position,
          id: entry.eventId,
          reason: 'checkpoint-mismatch',
          detail: 'the signed checkpoint at this position names another chain head: entries up to here were rewritten',
        };
        return false;
      }
      if (!this.signatureValid(checkpoint)) {
        this.broken = {
          position: entry.position,
          id: entry.eventId,
          reason: 'signature-invalid',
          detail: `the checkpoint's signature (key ${checkpoint.keyId}) does not verify with the trail's keys`,
        };
        return false;
      }
    }
    this.previous = hash;
    this.expected++;
    return true;
  }

  /** The range ends at `to`: positions not seen up to it (deleted at the end, below a checkpoint) are missing. */
  finish(to: number): Broken | undefined {
    if (!this.broken && this.expected <= to) {
      this.broken = {
        position: this.expected,
        id: null,
        reason: 'missing-position',
        detail: `position ${this.expected} is missing (the range ends at ${to})`,
      };
    }
    return this.broken;
  }
}
