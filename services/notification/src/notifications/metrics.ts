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
    const { rows } = await db.query<{ status: string; count: number }>(
      'SELECT status, count(*)::int AS count FROM notifications GROUP BY status',
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
}
