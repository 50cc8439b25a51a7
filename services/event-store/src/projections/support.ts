import type { DomainEvent } from '@jetsaga/events';
import type { ProjectionDefinition } from './definitions.js';
import type { RowOp } from './ops.js';

/** The UTC day of an instant, whatever offset it was written with. */
const day = (iso: string) => (iso.endsWith('Z') ? iso : new Date(iso).toISOString()).slice(0, 10);

/** A timeline row: one per event, keyed by it, so a rebuild writes exactly the same rows. */
const entry = (complaintId: string, event: DomainEvent): RowOp => ({
  table: 'timeline',
  key: { complaint_id: complaintId, event_id: event.id },
  set: { type: event.type, occurred_at: event.occurredAt, actor: event.actor },
});

/**
 * The complaint desk as the event store reads it (issue 14): one row per complaint with its status, and its timeline,
 * which also holds the refund it asked for and payment's answer. Automatic complaints have the incident's id, so
 * an incident's refund joins the complaint's timeline without a lookup.
 */
export const complaintViews: ProjectionDefinition = {
  name: 'complaint-views',
  description: 'One row per complaint (status, priority, assignee, escalation, refund) and its timeline, refunds included.',
  tables: {
    complaints: {
      columns: `complaint_id uuid NOT NULL, customer_id uuid, order_id uuid, shipment_id uuid, incident_id uuid, title text,
                priority text, category text, automatic boolean, status text, assignee text, escalation text,
                refund_id uuid, refund_cents bigint, refund_status text, refund_reason text, correlation_id uuid,
                opened_at timestamptz, resolved_at timestamptz, closed_at timestamptz`,
      key: ['complaint_id'],
    },
    timeline: {
      columns: 'complaint_id uuid NOT NULL, event_id uuid NOT NULL, type text, occurred_at timestamptz, actor text',
      key: ['complaint_id', 'event_id'],
    },
  },
  eventTypes: [
    'ComplaintOpened',
    'ComplaintAssigned',
    'ComplaintProcessingStarted',
    'ComplaintResolved',
    'ComplaintClosed',
    'ComplaintEscalated',
    'RefundRequested',
    'PaymentRefunded',
    'RefundRejected',
  ],
  project(event) {
    const complaint = (complaintId: string, set: Record<string, string | number | boolean | null>): RowOp[] => [
      { table: 'complaints', key: { complaint_id: complaintId }, set },
      entry(complaintId, event),
    ];
    switch (event.type) {
      case 'ComplaintOpened': {
        const d = event.data;
        return complaint(d.complaintId, {
          customer_id: d.customerId,
          order_id: d.orderId ?? null,
          shipment_id: d.shipmentId ?? null,
          incident_id: d.incidentId ?? null,
          title: d.title,
          priority: d.priority,
          category: d.category,
          automatic: d.automatic,
          status: 'OPEN',
          correlation_id: event.correlationId,
          opened_at: event.occurredAt,
        });
      }
      case 'ComplaintAssigned':
        return complaint(event.data.complaintId, { status: 'ASSIGNED', assignee: event.data.agent });
      case 'ComplaintProcessingStarted':
        return complaint(event.data.complaintId, { status: 'IN_PROGRESS' });
      case 'ComplaintResolved':
        return complaint(event.data.complaintId, {
          status: 'RESOLVED',
          resolved_at: event.occurredAt,
          ...(event.data.refundId
            ? { refund_id: event.data.refundId, refund_cents: event.data.refundCents ?? null, refund_status: 'REQUESTED' }
            : {}),
        });
      case 'ComplaintClosed':
        return complaint(event.data.complaintId, { status: 'CLOSED', closed_at: event.occurredAt });
      case 'ComplaintEscalated':
        return complaint(event.data.complaintId, { escalation: event.data.stage });
      case 'RefundRequested':
      case 'PaymentRefunded':
      case 'RefundRejected': {
        if (event.type === 'PaymentRefunded' && !event.data.refundId) return [];
        // A complaint's own refund names it; an incident's refund belongs to the complaint the incident opened.
        const complaintId = event.data.complaintId ?? event.data.incidentId;
        if (!complaintId) return [];
        if (event.type === 'RefundRequested') return [entry(complaintId, event)];
        return [
          {
            table: 'complaints',
            key: { complaint_id: complaintId },
            set: {
              refund_status: event.type === 'PaymentRefunded' ? 'REFUNDED' : 'REJECTED',
              refund_reason: event.type === 'RefundRejected' ? event.data.reason : null,
            },
          },
          entry(complaintId, event),
        ];
      }
      default:
        return [];
    }
  },
};

/**
 * Money given back per UTC day: asked for by support (requested, refunded, rejected) and the saga's own refunds of
 * cancelled orders, apart, so a day's figures say why money went back.
 */
export const refundsDaily: ProjectionDefinition = {
  name: 'refunds-daily',
  description: 'Refunds per day (UTC): requested, refunded and rejected refund requests, and refunds of cancelled orders.',
  tables: {
    refunds: {
      columns: `day date NOT NULL, requested bigint NOT NULL DEFAULT 0, requested_cents bigint NOT NULL DEFAULT 0,
                refunded bigint NOT NULL DEFAULT 0, refunded_cents bigint NOT NULL DEFAULT 0,
                rejected bigint NOT NULL DEFAULT 0, rejected_cents bigint NOT NULL DEFAULT 0,
                cancellations bigint NOT NULL DEFAULT 0, cancellation_cents bigint NOT NULL DEFAULT 0`,
      key: ['day'],
    },
  },
  eventTypes: ['RefundRequested', 'PaymentRefunded', 'RefundRejected'],
  project(event) {
    const add = (counts: Record<string, number>): RowOp[] => [{ table: 'refunds', key: { day: day(event.occurredAt) }, add: counts }];
    switch (event.type) {
      case 'RefundRequested':
        return add({ requested: 1, requested_cents: event.data.amountCents });
      case 'PaymentRefunded':
        return event.data.refundId
          ? add({ refunded: 1, refunded_cents: event.data.amountCents })
          : add({ cancellations: 1, cancellation_cents: event.data.amountCents });
      case 'RefundRejected':
        return add({ rejected: 1, rejected_cents: event.data.amountCents });
      default:
        return [];
    }
  },
};
