import { counter, type Db, gauge, histogram, observe, sharedRead } from '@jetsaga/platform';
import type { VerifyResult } from './chain/store.js';

const appended = counter({
  name: 'jetsaga_audit_entries_appended_total',
  help: 'Events appended to the audit trail (each event once), by event type.',
  labelNames: ['event_type'] as const,
});

const checkpointsSigned = counter({
  name: 'jetsaga_audit_checkpoints_total',
  help: 'Signed checkpoints of the audit chain, by what asked for one (every N entries, an admin).',
  labelNames: ['trigger'] as const,
});

const verifyDuration = histogram({
  name: 'jetsaga_audit_verify_duration_seconds',
  help: 'How long a verification of the audit chain took (recomputing hashes and checking signatures).',
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
});

const verifiedEntries = counter({
  name: 'jetsaga_audit_verified_entries_total',
  help: 'Entries whose hash a verification recomputed.',
});

const verifyOutcome = gauge({
  name: 'jetsaga_audit_chain_ok',
  help: 'The last verification of the audit chain by this process: 1 when it held, 0 when it named a broken entry (absent before the first).',
});

const brokenPosition = gauge({
  name: 'jetsaga_audit_chain_broken_position',
  help: 'The position of the first broken entry found by the last verification (0 when none).',
});

export function recordAppended(entries: ReadonlyArray<{ type: string }>): void {
  for (const entry of entries) appended.inc({ event_type: entry.type });
}

export function recordCheckpoint(trigger: 'every-n' | 'admin'): void {
  checkpointsSigned.inc({ trigger });
}

export function recordVerify(result: VerifyResult, seconds: number): void {
  observe(verifyDuration, {}, seconds);
  verifiedEntries.inc(result.checked);
  verifyOutcome.set(result.ok ? 1 : 0);
  brokenPosition.set(result.firstBroken?.position ?? 0);
}

/** The chain head and the age of its last checkpoint, read at each scrape (every replica reports the same). */
export function watchChain(db: Db, now: () => Date): void {
  const figures = sharedRead(async () => {
    const { rows } = await db.query<{ head: number; checkpoint: number; signed_at: Date | null; oldest_unsigned: Date | null }>(
      `SELECT coalesce((SELECT max(position) FROM entries), 0)::bigint AS head,
              coalesce((SELECT max(position) FROM checkpoints), 0)::bigint AS checkpoint,
              (SELECT signed_at FROM checkpoints ORDER BY position DESC LIMIT 1) AS signed_at,
              (SELECT recorded_at FROM entries WHERE position = coalesce((SELECT max(position) FROM checkpoints), 0) + 1) AS oldest_unsigned`,
    );
    return rows[0]!;
  });
  gauge({
    name: 'jetsaga_audit_chain_head_position',
    help: 'The position of the last entry of the audit chain.',
    async collect() {
      this.set((await figures()).head);
    },
  });
  gauge({
    name: 'jetsaga_audit_checkpoint_position',
    help: 'The position of the last signed checkpoint.',
    async collect() {
      this.set((await figures()).checkpoint);
    },
  });
  gauge({
    name: 'jetsaga_audit_checkpoint_age_seconds',
    help: 'Seconds since the last signed checkpoint (0 with no checkpoint yet).',
    async collect() {
      const { signed_at } = await figures();
      this.set(signed_at ? Math.max(0, (now().getTime() - signed_at.getTime()) / 1000) : 0);
    },
  });
  gauge({
    name: 'jetsaga_audit_unsigned_age_seconds',
    help: 'Seconds since the oldest entry that no checkpoint covers yet was appended (0 when the head is signed).',
    async collect() {
      const { oldest_unsigned } = await figures();
      this.set(oldest_unsigned ? Math.max(0, (now().getTime() - oldest_unsigned.getTime()) / 1000) : 0);
    },
  });
}
