import {
  DEADLINES_STREAM,
  type DomainEvent,
  deadlineScheduleSubject,
  EVENTS_STREAM,
  eventTypeFilter,
  InvalidEventError,
  materialize,
  zodIssues,
} from '@jetsaga/events';
import {
  type ConsumerDefinition,
  claimEvent,
  enqueue,
  enqueueEvents,
  type OutboxMessage,
  type ServiceDeps,
  type Tx,
  withTransaction,
} from '@jetsaga/platform';
import { z } from 'zod';
import { recordSagaEnd, type SagaEnd } from './metrics.js';
import { decideOrder, evolveOrder, isTerminal, type OrderCommand } from './order.js';
import { loadOrder, updateOrderStatus } from './store.js';

/** What the order service reacts to, and the command each reaction is. */
export function commandFor(event: DomainEvent): { orderId: string; command: OrderCommand } | undefined {
  switch (event.type) {
    case 'StockUnavailable':
      return { orderId: event.data.orderId, command: { type: 'CancelOrder', reason: 'OUT_OF_STOCK' } };
    case 'PaymentRefused':
      return { orderId: event.data.orderId, command: { type: 'CancelOrder', reason: 'PAYMENT_REFUSED' } };
    case 'SaleConfirmed':
      return { orderId: event.data.orderId, command: { type: 'CompleteOrder' } };
    default:
      return undefined;
  }
}

export const ORDER_CONSUMER = 'order';
export const ORDER_DEADLINES_CONSUMER = 'order-deadlines';

const deadlineSchema = z.object({
  deadlineId: z.uuid(),
  orderId: z.uuid(),
  correlationId: z.uuid(),
  causationId: z.string(),
  deadlineAt: z.string(),
});
export type DeadlineFired = z.infer<typeof deadlineSchema>;

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

async function applyToOrder(
  tx: Tx,
  deps: ServiceDeps,
  orderId: string,
  command: OrderCommand,
  cause: { id: string; correlationId: string; actor: string },
): Promise<SagaEnd | undefined> {
  const order = await loadOrder(tx, orderId, true);
  // Reactions can only arrive for orders this service placed; a missing one is a message from elsewhere.
  if (!order) throw new InvalidEventError(`order ${orderId} does not exist`);
  const drafts = decideOrder(order, command);
  if (drafts.length === 0) return undefined;
  const next = drafts.reduce(evolveOrder, order);
  await updateOrderStatus(tx, next);
  await enqueueEvents(
    tx,
    materialize(drafts, orderId, {
      correlationId: order.correlationId,
      causationId: cause.id,
      actor: cause.actor,
      occurredAt: deps.now().toISOString(),
      newId: deps.newId,
    }),
  );
  // A deadline that fired is spent; any other way of ending the saga leaves a timer to remove.
  if (isTerminal(next) && cause.actor !== 'deadline') await enqueue(tx, [cancelDeadline(orderId, deps.newId())]);
  if (next.status === 'NONE' || !isTerminal(next)) return undefined;
  return { status: next.status, reason: next.reason, placedAt: order.placedAt, traceId: order.traceId };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- domain events and deadline timers are decoded differently
export function orderConsumers(deps: ServiceDeps): ConsumerDefinition<any>[] {
  const events: ConsumerDefinition<DomainEvent> = {
    spec: {
      stream: EVENTS_STREAM,
      durable: ORDER_CONSUMER,
      filterSubjects: ['StockUnavailable', 'PaymentRefused', 'SaleConfirmed'].map(eventTypeFilter),
    },
    handle: async (event) => {
      const reaction = commandFor(event);
      if (!reaction) return;
      const ended = await withTransaction(deps.db, async (tx) => {
        if (!(await claimEvent(tx, ORDER_CONSUMER, event))) return undefined;
        return applyToOrder(tx, deps, reaction.orderId, reaction.command, {
          id: event.id,
          correlationId: event.correlationId,
          actor: 'order-service',
        });
      });
      // Counted once committed: a rolled-back attempt ended nothing.
      if (ended) recordSagaEnd(ended, deps.now());
    },
  };
  const deadlines: ConsumerDefinition<DeadlineFired> = {
    spec: { stream: DEADLINES_STREAM, durable: ORDER_DEADLINES_CONSUMER, filterSubjects: ['deadlines.order.*.fired'] },
    decode: (data) => {
      const parsed = deadlineSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
      if (!parsed.success) throw new InvalidEventError('not a valid deadline', zodIssues(parsed.error));
      return parsed.data;
    },
    handle: async (deadline) => {
      const ended = await withTransaction(deps.db, async (tx) => {
        if (!(await claimEvent(tx, ORDER_DEADLINES_CONSUMER, { id: deadline.deadlineId, type: 'OrderDeadline' }))) return undefined;
        return applyToOrder(
          tx,
          deps,
          deadline.orderId,
          { type: 'CancelOrder', reason: 'DEADLINE_EXCEEDED' },
          { id: deadline.deadlineId, correlationId: deadline.correlationId, actor: 'deadline' },
        );
      });
      if (ended) recordSagaEnd(ended, deps.now());
    },
  };
  return [events, deadlines];
}
