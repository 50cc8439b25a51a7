import { counter, type Db, gauge, histogram, observe, sharedRead } from '@jetsaga/platform';

/** How a saga ended, as the order service recorded it (after the commit that ended it). */
export type SagaEnd = { status: 'PENDING' | 'COMPLETED' | 'CANCELLED'; reason: string | null; placedAt: Date; traceId?: string };

const outcomes = counter({
  name: 'jetsaga_saga_outcomes_total',
  help: 'Sagas that ended, by outcome (COMPLETED, CANCELLED) and reason (none, OUT_OF_STOCK, PAYMENT_REFUSED, DEADLINE_EXCEEDED).',
  labelNames: ['outcome', 'reason'] as const,
});

const duration = histogram({
  name: 'jetsaga_saga_duration_seconds',
  help: 'Time from checkout to the end of the saga, by outcome; exemplars carry the trace id of the checkout.',
  labelNames: ['outcome'] as const,
  buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120],
});

export function recordSagaEnd(end: SagaEnd, now: Date): void {
  outcomes.inc({ outcome: end.status, reason: end.reason ?? 'none' });
  // The exemplar is the saga's own trace (started by the checkout), whichever handler ended it.
  observe(duration, { outcome: end.status }, Math.max(0, (now.getTime() - end.placedAt.getTime()) / 1000), end.traceId);
}

/** How long after its deadline a pending saga counts as stuck: the deadline should have cancelled it by then. */
const STUCK_GRACE_SECONDS = 60;

/**
 * Pending sagas, read from the orders table at each scrape: how many, the age of the oldest, and how many are
 * stuck (still pending a minute after their deadline, which should never happen). Every replica reports the same
 * figures: dashboards and alerts take the max.
 */
export function watchSagas(db: Db): void {
  const figures = sharedRead(async () => {
    const { rows } = await db.query<{ pending: number; stuck: number; oldest: number }>(
      `SELECT count(*)::int AS pending,
              (count(*) FILTER (WHERE deadline_at < now() - make_interval(secs => $1)))::int AS stuck,
              coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest
       FROM orders WHERE status = 'PENDING'`,
      [STUCK_GRACE_SECONDS],
    );
    return rows[0] ?? { pending: 0, stuck: 0, oldest: 0 };
  });
  gauge({
    name: 'jetsaga_sagas_pending',
    help: 'Sagas started and not yet ended (orders PENDING).',
    async collect() {
      this.set((await figures()).pending);
    },
  });
  gauge({
    name: 'jetsaga_sagas_stuck',
    help: `Sagas still pending ${STUCK_GRACE_SECONDS} s after their deadline.`,
    async collect() {
      this.set((await figures()).stuck);
    },
  });
  gauge({
    name: 'jetsaga_saga_oldest_pending_age_seconds',
    help: 'Age of the oldest pending saga (0 when none is pending).',
    async collect() {
      this.set((await figures()).oldest);
    },
  });
}
