import { createEvent, type DomainEvent, type EventData, type EventType, uuidv7 } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import { classifySmtpError, decideDelivery, intentFor, type Lookups, messageIdFor, notificationIdFor, sendStep } from './notification.js';

const meta = () => ({ id: uuidv7(), occurredAt: new Date().toISOString(), correlationId: uuidv7(), causationId: uuidv7(), actor: 'test' });
const event = <T extends EventType>(type: T, data: EventData<T>): DomainEvent => createEvent(type, uuidv7(), data, meta());

const customerId = uuidv7();
const orderId = uuidv7();
const complaintId = uuidv7();
const none: Lookups = { order: () => undefined, complaint: () => undefined };
const known: Lookups = {
  order: (id) => (id === orderId ? { customerId, totalCents: 4_200 } : undefined),
  complaint: (id) => (id === complaintId ? { customerId, orderId, title: 'Broken mug' } : undefined),
};

describe('which email an event asks for', () => {
  it("given the order's read model, when it completes, then its customer gets order-completed with the total", () => {
    expect(intentFor(event('OrderCompleted', { orderId }), known)).toEqual({
      template: 'order-completed',
      customerId,
      orderId,
      facts: { orderId, totalCents: 4_200 },
    });
  });

  it('given no order seen, when it completes, then nothing (no one to write to)', () => {
    expect(intentFor(event('OrderCompleted', { orderId }), none)).toBeUndefined();
  });

  it('when an order is cancelled, then order-cancelled with its reason (the event names the customer)', () => {
    expect(intentFor(event('OrderCancelled', { orderId, customerId, reason: 'OUT_OF_STOCK' }), none)).toMatchObject({
      template: 'order-cancelled',
      customerId,
      facts: { reason: 'OUT_OF_STOCK' },
    });
  });

  it("when a complaint is assigned, resolved or closed, then the complaint's customer gets the matching template", () => {
    expect(intentFor(event('ComplaintAssigned', { complaintId, agent: 'a' }), known)?.template).toBe('complaint-assigned');
    expect(intentFor(event('ComplaintResolved', { complaintId, resolution: 'refunded' }), known)).toMatchObject({
      template: 'complaint-resolved',
      facts: { resolution: 'refunded', title: 'Broken mug' },
    });
    expect(intentFor(event('ComplaintClosed', { complaintId }), known)?.template).toBe('complaint-closed');
    expect(intentFor(event('ComplaintClosed', { complaintId }), none)).toBeUndefined();
  });

  it('when a parcel leaves, then shipment-dispatched with carrier and tracking number', () => {
    const data = {
      shipmentId: uuidv7(),
      orderId,
      customerId,
      carrier: 'La Poste',
      trackingNumber: 'LP1',
      deadlineAt: new Date().toISOString(),
    };
    expect(intentFor(event('ShipmentDispatched', data), none)).toMatchObject({
      template: 'shipment-dispatched',
      facts: { carrier: 'La Poste', trackingNumber: 'LP1' },
    });
  });

  it('when a payment is refunded, then payment-refunded with the amount; other events ask for nothing', () => {
    expect(intentFor(event('PaymentRefunded', { orderId, customerId, amountCents: 99 }), none)).toMatchObject({
      template: 'payment-refunded',
      facts: { amountCents: 99 },
    });
    expect(intentFor(event('CartCreated', { cartId: uuidv7(), customerId }), known)).toBeUndefined();
  });
});

describe('whether it is sent', () => {
  const recipient = { customerId, name: 'Ada', email: 'ada@example.org', locale: 'fr' as const };
  it('sends to a known customer who did not opt out, in their locale', () => {
    expect(decideDelivery(recipient, undefined)).toEqual({ status: 'PENDING', to: 'ada@example.org', locale: 'fr', name: 'Ada' });
    expect(decideDelivery(recipient, true).status).toBe('PENDING');
  });
  it('suppresses an opted-out customer, and one without an address (erased, unknown)', () => {
    expect(decideDelivery(recipient, false)).toMatchObject({ status: 'SUPPRESSED', reason: 'OPTED_OUT' });
    expect(decideDelivery(undefined, true)).toMatchObject({ status: 'SUPPRESSED', reason: 'NO_RECIPIENT' });
  });
});

describe('exactly one email per (event, template, recipient)', () => {
  it('names a notification by its event, template and recipient: the same three, the same id and Message-ID', () => {
    const eventId = uuidv7();
    expect(notificationIdFor(eventId, 'order-completed', customerId)).toBe(notificationIdFor(eventId, 'order-completed', customerId));
    expect(notificationIdFor(eventId, 'order-completed', customerId)).not.toBe(notificationIdFor(eventId, 'order-cancelled', customerId));
    expect(notificationIdFor(eventId, 'order-completed', customerId)).not.toBe(notificationIdFor(uuidv7(), 'order-completed', customerId));
    const id = notificationIdFor(eventId, 'order-completed', customerId);
    expect(messageIdFor(id, 'jetsaga.local')).toBe(`${id}@jetsaga.local`);
  });

  it('sends nothing again for a SENT or SUPPRESSED row; looks up one whose last attempt has no known outcome', () => {
    expect(sendStep({ status: 'SENT', outcomeUnknown: false }, true)).toBe('done');
    expect(sendStep({ status: 'SUPPRESSED', outcomeUnknown: false }, true)).toBe('done');
    expect(sendStep({ status: 'PENDING', outcomeUnknown: true }, true)).toBe('look-up');
    expect(sendStep({ status: 'FAILED', outcomeUnknown: true }, true)).toBe('look-up');
    expect(sendStep({ status: 'PENDING', outcomeUnknown: true }, false)).toBe('send');
    expect(sendStep({ status: 'FAILED', outcomeUnknown: false }, true)).toBe('send');
  });

  it("reads an SMTP error: a reply is the server's answer, no connection is not sent, a silence after the data is unknown", () => {
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 550, message: 'no such user' })).toMatchObject({
      kind: 'rejected',
      permanent: true,
    });
    expect(classifySmtpError({ code: 'EMESSAGE', responseCode: 451, message: 'try later' })).toMatchObject({
      kind: 'rejected',
      permanent: false,
    });
    expect(classifySmtpError({ code: 'ESOCKET', originalCode: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }).kind).toBe('not-sent');
    expect(classifySmtpError({ code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT' }).kind).toBe('not-sent');
    expect(classifySmtpError({ code: 'ETIMEDOUT', timeoutType: 'SOCKET_TIMEOUT' }).kind).toBe('unknown');
    expect(classifySmtpError({ code: 'ECONNECTION', message: 'Connection closed unexpectedly' }).kind).toBe('unknown');
  });
});
