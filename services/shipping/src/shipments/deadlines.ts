import { type DomainEvent, deadlineFiredSubject, deadlineScheduleSubject, InvalidEventError, zodIssues } from '@jetsaga/events';
import type { OutboxMessage } from '@jetsaga/platform';
import { z } from 'zod';

const deadlineSchema = z.object({
  deadlineId: z.uuid(),
  shipmentId: z.uuid(),
  correlationId: z.uuid(),
  causationId: z.string(),
  deadlineAt: z.string(),
});
export type DeliveryDeadline = z.infer<typeof deadlineSchema>;

export function decodeDeadline(data: Uint8Array): DeliveryDeadline {
  const parsed = deadlineSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
  if (!parsed.success) throw new InvalidEventError('not a valid delivery deadline', zodIssues(parsed.error));
  return parsed.data;
}

/** `@at` takes an RFC 3339 instant; whole seconds, rounded up so a deadline never fires early. */
export function deadlineInstant(now: Date, deadlineMs: number): string {
  const at = new Date(Math.ceil((now.getTime() + deadlineMs) / 1000) * 1000);
  return at.toISOString().replace('.000Z', 'Z');
}

/** The timer JetStream fires for a dispatched parcel, as the order saga's deadline (services/order/src/orders/deadlines.ts). */
export function deadlineMessage(dispatched: DomainEvent & { type: 'ShipmentDispatched' }, id: string): OutboxMessage {
  const { shipmentId, deadlineAt } = dispatched.data;
  return {
    id,
    subject: deadlineScheduleSubject('shipment', shipmentId),
    payload: { deadlineId: id, shipmentId, correlationId: dispatched.correlationId, causationId: dispatched.id, deadlineAt },
    headers: {
      'Nats-Schedule': `@at ${deadlineAt}`,
      'Nats-Schedule-Target': deadlineFiredSubject('shipment', shipmentId),
    },
  };
}

/** Purges the timer of a parcel that no longer needs it (delivered, or in trouble already). */
export function cancelDeadline(shipmentId: string, id: string): OutboxMessage {
  return {
    id,
    subject: `deadlines.shipment.${shipmentId}.cancelled`,
    payload: { shipmentId },
    headers: { 'Nats-Schedule-Next': 'purge', 'Nats-Scheduler': deadlineScheduleSubject('shipment', shipmentId) },
  };
}
