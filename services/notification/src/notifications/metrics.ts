import { counter, type Db, gauge, histogram, observe, sharedRead } from '@jetsaga/platform';

/** What became of emails, by template: sent, failed (an attempt), suppressed (opted out, no address), deduplicated. */
export const emails = counter({
  name: 'jetsaga_notification_emails_total',
  help: 'Emails by outcome (sent, failed, suppressed, deduplicated: a redelivered event or an attempt found already delivered) and template.',
  labelNames: ['outcome', 'template'] as const,
});

const smtpSeconds = histogram({
  name: 'jetsaga_notification_smtp_duration_seconds',
  help: 'How long one SMTP send took, by outcome (sent, rejected, not-sent, unknown).',
  labelNames: ['outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
});

export function recordSmtp(outcome: string, seconds: number, traceId: string | undefined): void {
  observe(smtpSeconds, { outcome }, seconds, traceId);
}

/** Notifications by status, read at each scrape (every replica reports the same figures: take the max). */
export function watchNotifications(db: Db): void {
  const figures = sharedRead(async () => {
    const { rows } = await db.query<{ status: string; count: number; unknown: number; oldest_unknown_seconds: number | null }>(
      `SELECT status, count(*)::int AS count, (count(*) FILTER (WHERE outcome_unknown))::int AS unknown,
              extract(epoch FROM now() - min(updated_at) FILTER (WHERE outcome_unknown))::float8 AS oldest_unknown_seconds
         FROM notifications GROUP BY status`,
    );
    return rows;
  });
  gauge({
    name: 'jetsaga_notifications',
    help: 'Notifications by status (PENDING, SENT, FAILED, SUPPRESSED).',
    labelNames: ['status'] as const,
    async collect() {
      this.reset();
      for (const status of ['PENDING', 'SENT', 'FAILED', 'SUPPRESSED']) this.set({ status }, 0);
      for (const row of await figures()) this.set({ status: row.status }, row.count);
    },
  });
  gauge({
    name: 'jetsaga_notifications_outcome_unknown',
    help: 'Emails whose last SMTP attempt has no known outcome (being sent, or the server went silent after accepting): PENDING ones wait for their retry and its look-up, FAILED ones were dead-lettered that way (ADR 0050).',
    labelNames: ['status'] as const,
    async collect() {
      this.reset();
      for (const status of ['PENDING', 'FAILED']) this.set({ status }, 0);
      for (const row of await figures())
        if (row.status === 'PENDING' || row.status === 'FAILED') this.set({ status: row.status }, row.unknown);
    },
  });
  gauge({
    name: 'jetsaga_notifications_outcome_unknown_oldest_age_seconds',
    help: 'Seconds since the oldest email of unknown outcome was last attempted (0 when none).',
    async collect() {
      const ages = (await figures()).map((row) => row.oldest_unknown_seconds ?? 0);
      this.set(Math.max(0, ...ages));
    },
  });
}
