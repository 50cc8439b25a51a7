import { createHash } from 'node:crypto';
import type { DomainEvent } from '@jetsaga/events';
import type { Facts, Locale, Template } from './templates.js';

/** The event types that email a customer (and what the consumer reads to address them, see recipients/). */
export const NOTIFIABLE_EVENT_TYPES = [
  'OrderCompleted',
  'OrderCancelled',
  'ShipmentDispatched',
  'ShipmentDelivered',
  'IncidentReported',
  'ComplaintOpened',
  'ComplaintAssigned',
  'ComplaintResolved',
  'ComplaintClosed',
  'PaymentRefunded',
] as const;

export type NotificationStatus = 'PENDING' | 'SENT' | 'FAILED' | 'SUPPRESSED';

/** What an event asks for: one email of a template to one customer, about an order perhaps, with these facts. */
export type Intent = { template: Template; customerId: string; orderId?: string; facts: Facts };

/** What the consumer's read models know about an event's order and complaint (recipients/projection.ts). */
export type Lookups = {
  order(orderId: string): { customerId: string; totalCents: number } | undefined;
  complaint(complaintId: string): { customerId: string; orderId?: string; title: string } | undefined;
};

/** Pure: the email an event asks for, or none (an event of no interest, or about an order or complaint never seen). */
export function intentFor(event: DomainEvent, lookups: Lookups): Intent | undefined {
  switch (event.type) {
    case 'OrderCompleted': {
      const order = lookups.order(event.data.orderId);
      if (!order) return undefined;
      return {
        template: 'order-completed',
        customerId: order.customerId,
        orderId: event.data.orderId,
        facts: { orderId: event.data.orderId, totalCents: order.totalCents },
      };
    }
    case 'OrderCancelled':
      return {
        template: 'order-cancelled',
        customerId: event.data.customerId,
        orderId: event.data.orderId,
        facts: { orderId: event.data.orderId, reason: event.data.reason },
      };
    case 'ShipmentDispatched': {
      const { customerId, orderId, carrier, trackingNumber } = event.data;
      return { template: 'shipment-dispatched', customerId, orderId, facts: { orderId, carrier, trackingNumber } };
    }
    case 'ShipmentDelivered': {
      const { customerId, orderId } = event.data;
      return { template: 'shipment-delivered', customerId, orderId, facts: { orderId } };
    }
    case 'IncidentReported': {
      const { customerId, orderId, kind } = event.data;
      return { template: 'incident-reported', customerId, orderId, facts: { orderId, kind } };
    }
    case 'ComplaintOpened': {
      const { customerId, orderId, complaintId, title } = event.data;
      return { template: 'complaint-opened', customerId, ...(orderId ? { orderId } : {}), facts: { complaintId, title, orderId } };
    }
    case 'ComplaintAssigned':
    case 'ComplaintResolved':
    case 'ComplaintClosed': {
      const { complaintId } = event.data;
      const complaint = lookups.complaint(complaintId);
      if (!complaint) return undefined;
      const template =
        event.type === 'ComplaintAssigned'
          ? 'complaint-assigned'
          : event.type === 'ComplaintResolved'
            ? 'complaint-resolved'
            : 'complaint-closed';
      return {
        template,
        customerId: complaint.customerId,
        ...(complaint.orderId ? { orderId: complaint.orderId } : {}),
        facts: {
          complaintId,
          title: complaint.title,
          ...(complaint.orderId ? { orderId: complaint.orderId } : {}),
          ...(event.type === 'ComplaintResolved' ? { resolution: event.data.resolution } : {}),
        },
      };
    }
    case 'PaymentRefunded': {
      const { customerId, orderId, amountCents } = event.data;
      return { template: 'payment-refunded', customerId, orderId, facts: { orderId, amountCents } };
    }
    default:
      return undefined;
  }
}

export type Recipient = { customerId: string; name: string; email: string; locale: Locale };

/** Whether an email goes out: to a known address of a customer who did not opt out; otherwise it is recorded SUPPRESSED. */
export type Delivery =
  | { status: 'PENDING'; to: string; locale: Locale; name: string }
  | { status: 'SUPPRESSED'; reason: 'OPTED_OUT' | 'NO_RECIPIENT'; to: string; locale: Locale };

/** Pure: what becomes of an intent, given the customer's address (if known) and their email preference (default: yes). */
export function decideDelivery(recipient: Recipient | undefined, wantsEmail: boolean | undefined): Delivery {
  if (!recipient) return { status: 'SUPPRESSED', reason: 'NO_RECIPIENT', to: '[unknown]', locale: 'en' };
  if (wantsEmail === false) return { status: 'SUPPRESSED', reason: 'OPTED_OUT', to: recipient.email, locale: recipient.locale };
  return { status: 'PENDING', to: recipient.email, locale: recipient.locale, name: recipient.name };
}

/** A notification row as the sending step reads it. */
export type Attempted = { status: NotificationStatus; outcomeUnknown: boolean };

/**
 * Pure: what the sending step does with a row. SENT and SUPPRESSED are done (a redelivery sends nothing). A row whose
 * last attempt has no known outcome (the process died during it, or the server accepted the message and went silent
 * before answering) is first looked up at the receiving side when a look-up is configured, then sent with the same
 * Message-ID; any other row is sent.
 */
export function sendStep(row: Attempted, canLookUp: boolean): 'done' | 'look-up' | 'send' {
  if (row.status === 'SENT' || row.status === 'SUPPRESSED') return 'done';
  return row.outcomeUnknown && canLookUp ? 'look-up' : 'send';
}

const NAMESPACE = Buffer.from('3c9d4f8a1b2e4c6d8e0f1a2b3c4d5e6f', 'hex');

/** A UUID v5 of a name: the same name, the same id, in every process and on every redelivery. */
export function nameBasedId(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name).digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The notification of one (event, template, recipient): its id is its key (ADR 0050). */
export function notificationIdFor(sourceEventId: string, template: Template, recipient: string): string {
  return nameBasedId(`${sourceEventId}:${template}:${recipient}`);
}

/** The Message-ID header (RFC 5322) of a notification: stable across attempts, so the receiving side can dedupe. */
export function messageIdFor(notificationId: string, domain: string): string {
  return `${notificationId}@${domain}`;
}

/** How an SMTP attempt ended, as far as the sender can know. */
export type SmtpOutcome =
  | { kind: 'sent'; response: string }
  | { kind: 'rejected'; permanent: boolean; error: string }
  | { kind: 'not-sent'; error: string }
  | { kind: 'unknown'; error: string };

/** An SMTP client error, as nodemailer reports it. */
export type SmtpError = { code?: string; originalCode?: string; timeoutType?: string; responseCode?: number; message?: string };

/** Timeouts that end a session before any message could be handed over. */
const SETUP_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT']);

/**
 * Pure: an SMTP error as an outcome. A reply code is the server's answer (5xx permanent, 4xx transient); a refused
 * connection, a failed name lookup or login, or a timeout before the session was set up means nothing was handed over;
 * anything else (a socket timeout or a reset once the session was open, the data perhaps sent) may have been accepted,
 * so its outcome is unknown.
 */
export function classifySmtpError(error: SmtpError): SmtpOutcome {
  const message = error.message ?? String(error);
  if (typeof error.responseCode === 'number' && error.responseCode >= 400) {
    return { kind: 'rejected', permanent: error.responseCode >= 500, error: message };
  }
  if (
    error.originalCode === 'ECONNREFUSED' ||
    error.originalCode === 'ENOTFOUND' ||
    error.code === 'EDNS' ||
    error.code === 'EAUTH' ||
    (error.code === 'ETIMEDOUT' && SETUP_TIMEOUTS.has(error.timeoutType ?? ''))
  ) {
    return { kind: 'not-sent', error: message };
  }
  return { kind: 'unknown', error: message };
}
