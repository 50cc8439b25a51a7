import { type ComplaintPriority, deadlineFiredSubject, deadlineScheduleSubject, InvalidEventError, zodIssues } from '@jetsaga/events';
import { configFields, type OutboxMessage } from '@jetsaga/platform';
import { z } from 'zod';

/** How long a complaint of each priority may wait for an answer before it escalates (ms). */
export type ResponseDeadlines = Readonly<Record<ComplaintPriority, number>>;

const HOUR = 3_600_000;

/** `COMPLAINT_DEADLINE_<PRIORITY>_MS`: CRITICAL 1 h, HIGH 4 h, MEDIUM 24 h, LOW 72 h unless set. */
export const deadlineConfig = z.object({
  COMPLAINT_DEADLINE_LOW_MS: configFields.milliseconds(72 * HOUR),
  COMPLAINT_DEADLINE_MEDIUM_MS: configFields.milliseconds(24 * HOUR),
  COMPLAINT_DEADLINE_HIGH_MS: configFields.milliseconds(4 * HOUR),
  COMPLAINT_DEADLINE_CRITICAL_MS: configFields.milliseconds(HOUR),
});

export function responseDeadlines(config: z.infer<typeof deadlineConfig>): ResponseDeadlines {
  return {
    LOW: config.COMPLAINT_DEADLINE_LOW_MS,
    MEDIUM: config.COMPLAINT_DEADLINE_MEDIUM_MS,
    HIGH: config.COMPLAINT_DEADLINE_HIGH_MS,
    CRITICAL: config.COMPLAINT_DEADLINE_CRITICAL_MS,
  };
}

export const DEFAULT_RESPONSE_DEADLINES: ResponseDeadlines = responseDeadlines(deadlineConfig.parse({}));

/** `@at` takes an RFC 3339 instant: whole seconds, rounded up so a deadline never fires early. */
export function deadlineAt(openedAt: Date, priority: ComplaintPriority, deadlines: ResponseDeadlines): string {
  const at = new Date(Math.ceil((openedAt.getTime() + deadlines[priority]) / 1000) * 1000);
  return at.toISOString().replace('.000Z', 'Z');
}

const firedSchema = z.object({
  deadlineId: z.uuid(),
  complaintId: z.uuid(),
  correlationId: z.uuid(),
  causationId: z.string(),
  deadlineAt: z.string(),
});
export type ComplaintDeadlineFired = z.infer<typeof firedSchema>;

export function decodeComplaintDeadline(data: Uint8Array): ComplaintDeadlineFired {
  const parsed = firedSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
  if (!parsed.success) throw new InvalidEventError('not a valid complaint deadline', zodIssues(parsed.error));
  return parsed.data;
}

/** The timer JetStream fires for a complaint: a schedule on DEADLINES whose target support consumes. */
export function complaintDeadlineMessage(
  opened: { id: string; correlationId: string; data: { complaintId: string; deadlineAt: string } },
  id: string,
): OutboxMessage {
  const { complaintId, deadlineAt: at } = opened.data;
  return {
    id,
    subject: deadlineScheduleSubject('complaint', complaintId),
    payload: { deadlineId: id, complaintId, correlationId: opened.correlationId, causationId: opened.id, deadlineAt: at },
    headers: { 'Nats-Schedule': `@at ${at}`, 'Nats-Schedule-Target': deadlineFiredSubject('complaint', complaintId) },
  };
}

/** An answered complaint's timer is purged (`Nats-Schedule-Next: purge`, as order's saga deadline). */
export function cancelComplaintDeadline(complaintId: string, id: string): OutboxMessage {
  return {
    id,
    subject: `deadlines.complaint.${complaintId}.cancelled`,
    payload: { complaintId },
    headers: { 'Nats-Schedule-Next': 'purge', 'Nats-Scheduler': deadlineScheduleSubject('complaint', complaintId) },
  };
}
