import { COMPLAINT_PRIORITIES, type DomainEvent } from '@jetsaga/events';
import { counter, type Db, gauge, sharedRead } from '@jetsaga/platform';

const opened = counter({
  name: 'jetsaga_complaints_opened_total',
  help: 'Complaints opened, by priority and whether an incident opened it by itself (automatic).',
  labelNames: ['priority', 'automatic'] as const,
});
const resolved = counter({
  name: 'jetsaga_complaints_resolved_total',
  help: 'Complaints resolved, by whether the resolution asked for a refund.',
  labelNames: ['refund'] as const,
});
const escalated = counter({
  name: 'jetsaga_complaints_escalated_total',
  help: 'Complaints whose response deadline passed unanswered, by priority and stage (UNASSIGNED, UNRESOLVED).',
  labelNames: ['priority', 'stage'] as const,
});
const refunds = counter({
  name: 'jetsaga_refunds_total',
  help: "Refund requests and payment's answers, by outcome (REQUESTED, REFUNDED, REJECTED) and reason.",
  labelNames: ['outcome', 'reason'] as const,
});
const refundedCents = counter({
  name: 'jetsaga_refunded_cents_total',
  help: 'Money given back for refund requests (cents).',
});

/** Counts what committed: called after the transaction that wrote these events (or, for payment's answers, read them). */
export function recordSupportEvents(events: readonly DomainEvent[]): void {
  for (const event of events) {
    switch (event.type) {
      case 'ComplaintOpened':
        opened.inc({ priority: event.data.priority, automatic: String(event.data.automatic) });
        break;
      case 'ComplaintResolved':
        resolved.inc({ refund: event.data.refundId ? 'yes' : 'no' });
        break;
      case 'ComplaintEscalated':
        escalated.inc({ priority: event.data.priority, stage: event.data.stage });
        break;
      case 'RefundRequested':
        refunds.inc({ outcome: 'REQUESTED', reason: event.data.reason });
        break;
      case 'PaymentRefunded':
        if (!event.data.refundId) break;
        refunds.inc({ outcome: 'REFUNDED', reason: 'none' });
        refundedCents.inc(event.data.amountCents);
        break;
      case 'RefundRejected':
        refunds.inc({ outcome: 'REJECTED', reason: event.data.reason });
        break;
      default:
        break;
    }
  }
}

/** How long past its deadline an unanswered, unescalated complaint counts as missed: the schedule should have fired. */
const MISSED_GRACE_SECONDS = 60;

/**
 * The desk's backlog, read from support's tables at each scrape: unanswered complaints by priority, those whose
 * escalation is overdue (which should never happen), and the age of the oldest refund payment has not answered.
 * Every replica reports the same figures: dashboards and alerts take the max.
 */
export function watchDesk(db: Db): void {
  const figures = sharedRead(async () => {
    const [desk, money] = await Promise.all([
      db.query<{ priority: string; unanswered: number; overdue: number }>(
        `SELECT priority, count(*)::int AS unanswered,
                (count(*) FILTER (WHERE escalation IS NULL AND deadline_at < now() - make_interval(secs => $1)))::int AS overdue
         FROM complaints WHERE status NOT IN ('RESOLVED', 'CLOSED') GROUP BY priority`,
        [MISSED_GRACE_SECONDS],
      ),
      db.query<{ oldest: number }>(
        "SELECT coalesce(extract(epoch FROM now() - min(requested_at)), 0)::float8 AS oldest FROM refunds WHERE status = 'REQUESTED'",
      ),
    ]);
    return { desk: desk.rows, oldestRefund: money.rows[0]?.oldest ?? 0 };
  });
  gauge({
    name: 'jetsaga_complaints_unanswered',
    help: 'Complaints not yet resolved, by priority.',
    labelNames: ['priority'] as const,
    async collect() {
      const { desk } = await figures();
      for (const priority of COMPLAINT_PRIORITIES) this.set({ priority }, desk.find((row) => row.priority === priority)?.unanswered ?? 0);
    },
  });
  gauge({
    name: 'jetsaga_complaints_escalation_overdue',
    help: `Unanswered complaints ${MISSED_GRACE_SECONDS} s past their response deadline and still not escalated.`,
    async collect() {
      this.set((await figures()).desk.reduce((sum, row) => sum + row.overdue, 0));
    },
  });
  gauge({
    name: 'jetsaga_refunds_oldest_unanswered_age_seconds',
    help: 'Age of the oldest refund request payment has not answered (0 when none waits).',
    async collect() {
      this.set((await figures()).oldestRefund);
    },
  });
}
