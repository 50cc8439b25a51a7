import { type DomainEvent, deadlineFiredSubject, deadlineScheduleSubject, InvalidEventError, zodIssues } from '@jetsaga/events';
import type { OutboxMessage } from '@jetsaga/platform';
import { z } from 'zod';

const deadlineSchema = z.object({
  deadlineId: z.uuid(),
  orderId: z.uuid(),
  correlationId: z.uuid(),
  causationId: z.string(),
  deadlineAt: z.string(),
});
export type DeadlineFired = z.infer<typeof deadlineSchema>;

export function decodeDeadline(data: Uint8Array): DeadlineFired {
  const parsed = deadlineSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
  if (!parsed.success) throw new InvalidEventError('not a valid deadline', zodIssues(parsed.error));
  return parsed.data;
}

/** `@at` takes an RFC 3339 instant; whole seconds, rounded up so a deadline never fires early. */
export function deadlineInstant(now: Date, deadlineMs: number): string {
  const at = new Date(Math.ceil((now.getTime() + deadlineMs) / 1000) * 1000);
  return at.toISOString().replace('.000Z', 'Z');
}

/** The timer JetStream fires for an order: a schedule message whose target the order service consumes. */
export function deadlineMessage(placed: DomainEvent & { type: 'OrderPlaced' }, id: string): OutboxMessage {
  const { orderId, deadlineAt } = placed.data;
  return {
    id,
    subject: deadlineScheduleSubject('order', orderId),
    payload: { deadlineId: id, orderId, correlationId: placed.correlationId, causationId: placed.id, deadlineAt },
    headers: {
      'Nats-Schedule': `@at ${deadlineAt}`,
      'Nats-Schedule-Target': deadlineFiredSubject('order', orderId),
    },
  };
}

/**
 * A schedule that is no longer needed is purged by a message carrying `Nats-Schedule-Next: purge` and naming the
 * schedule in `Nats-Scheduler` (server 2.14+). Purging a schedule that already fired is accepted and does nothing.
 */
export function cancelDeadline(orderId: string, id: string): OutboxMessage {
  return {
    id,
    subject: `deadlines.order.${orderId}.cancelled`,
    payload: { orderId },
    headers: { 'Nats-Schedule-Next': 'purge', 'Nats-Scheduler': deadlineScheduleSubject('order', orderId) },
  };
}
