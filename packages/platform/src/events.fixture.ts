import { createEvent, type DomainEvent, uuidv7 } from '@jetsaga/events';

/** A valid OrderCompleted of a new order in a saga of its own: the plain event the messaging tests move around. */
export function orderCompleted(causationId: string): DomainEvent {
  const orderId = uuidv7();
  return createEvent(
    'OrderCompleted',
    orderId,
    { orderId },
    { id: uuidv7(), occurredAt: new Date().toISOString(), correlationId: uuidv7(), causationId, actor: 'test' },
  );
}
