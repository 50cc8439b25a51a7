import { DEADLINES_STREAM, type DomainEvent, EVENTS_STREAM, eventTypeFilter, InvalidEventError } from '@jetsaga/events';
import { type Addressed, type CommandHandler, type Ids, type Reaction, reactionConsumers } from '@jetsaga/platform';
import { cancelDeadline, type DeadlineFired, deadlineMessage, decodeDeadline } from './deadlines.js';
import { recordSagaEnd } from './metrics.js';
import { decideOrder, evolveOrder, initialOrder, isTerminal, type Order, type OrderCommand, type OrderEvent } from './order.js';
import { loadOrders, saveOrders, type StoredOrder } from './store.js';

export { cancelDeadline, type DeadlineFired } from './deadlines.js';

export const ORDER_CONSUMER = 'order';
export const ORDER_DEADLINES_CONSUMER = 'order-deadlines';

/** What the order service reacts to, and the command each reaction is. */
export function commandFor(event: DomainEvent): Addressed<OrderCommand> | undefined {
  switch (event.type) {
    case 'StockUnavailable':
      return { id: event.data.orderId, command: { type: 'CancelOrder', reason: 'OUT_OF_STOCK' } };
    case 'PaymentRefused':
      return { id: event.data.orderId, command: { type: 'CancelOrder', reason: 'PAYMENT_REFUSED' } };
    case 'SaleConfirmed':
      return { id: event.data.orderId, command: { type: 'CompleteOrder' } };
    default:
      return undefined;
  }
}

/**
 * Orders: placed by a checkout, ended by the saga's reactions or the deadline. Placing one also sets its timer; any
 * end but the deadline's own removes the timer.
 */
export const orders: CommandHandler<Order, OrderCommand, OrderEvent> = {
  initialState: initialOrder,
  load: loadOrders,
  decide: (state, command) => {
    // Reactions can only arrive for orders this service placed; a missing one is a message from elsewhere.
    if (state.status === 'NONE' && command.type !== 'PlaceOrder') throw new InvalidEventError('the order does not exist');
    return decideOrder(state, command);
  },
  evolve: evolveOrder,
  save: saveOrders,
  messages: ({ id, state, events, meta }, newId) => {
    const placed = events.find((event) => event.type === 'OrderPlaced');
    if (placed?.type === 'OrderPlaced') return [deadlineMessage(placed, newId())];
    // A deadline that fired is spent; any other way of ending the saga leaves a timer to remove.
    return isTerminal(state) && meta.actor !== 'deadline' ? [cancelDeadline(id, newId())] : [];
  },
};

function sagaEnded(changes: ReadonlyArray<{ state: Order; events: readonly unknown[] }>, ids: Ids): void {
  for (const { state, events } of changes) {
    if (events.length === 0 || state.status === 'NONE' || !isTerminal(state)) continue;
    const { placedAt, traceId } = state as StoredOrder;
    // Counted once committed: a rolled-back attempt ended nothing.
    recordSagaEnd({ status: state.status, reason: state.reason, placedAt, traceId }, ids.now());
  }
}

export const orderReaction: Reaction<DomainEvent, Order, OrderCommand> = {
  spec: {
    stream: EVENTS_STREAM,
    durable: ORDER_CONSUMER,
    filterSubjects: ['StockUnavailable', 'PaymentRefused', 'SaleConfirmed'].map(eventTypeFilter),
  },
  react: commandFor,
  actor: 'order-service',
  handler: orders,
  committed: sagaEnded,
};

export const deadlineReaction: Reaction<DeadlineFired, Order, OrderCommand> = {
  spec: { stream: DEADLINES_STREAM, durable: ORDER_DEADLINES_CONSUMER, filterSubjects: ['deadlines.order.*.fired'] },
  decode: decodeDeadline,
  identify: (deadline) => ({ id: deadline.deadlineId, type: 'OrderDeadline' }),
  react: (deadline) => ({ id: deadline.orderId, command: { type: 'CancelOrder', reason: 'DEADLINE_EXCEEDED' } }),
  metadata: (deadline, ids) => ({
    correlationId: deadline.correlationId,
    causationId: deadline.deadlineId,
    actor: 'deadline',
    occurredAt: ids.now().toISOString(),
  }),
  actor: 'deadline',
  handler: orders,
  committed: sagaEnded,
};

export const orderConsumers = reactionConsumers(orderReaction, deadlineReaction);
