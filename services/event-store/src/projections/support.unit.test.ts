import { createEvent, type DomainEvent, type EventData, type EventType, uuidv7 } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import { applyInMemory, type MemoryTables, rowsOf } from './ops.js';
import type { ProjectionDefinition } from './definitions.js';
import { complaintViews, refundsDaily } from './support.js';

const correlationId = uuidv7();
const complaintId = uuidv7();
const customerId = uuidv7();
const orderId = uuidv7();
const refundId = uuidv7();
const incidentId = uuidv7();
const shipmentId = uuidv7();

function event<T extends EventType>(
  type: T,
  aggregateId: string,
  data: EventData<T>,
  occurredAt = '2026-12-02T10:00:00.000Z',
): DomainEvent {
  return createEvent(type, aggregateId, data, { id: uuidv7(), occurredAt, correlationId, causationId: 'test', actor: 'agent:alice' });
}

function given(definition: ProjectionDefinition, events: DomainEvent[]): MemoryTables {
  return applyInMemory(
    new Map(),
    events.flatMap((e) => definition.project(e)),
  );
}

const opened = (id: string, extra: Partial<EventData<'ComplaintOpened'>> = {}) =>
  event('ComplaintOpened', id, {
    complaintId: id,
    customerId,
    orderId,
    title: 'Broken',
    description: 'It broke',
    priority: 'HIGH',
    category: 'PRODUCT',
    automatic: false,
    deadlineAt: '2026-12-02T14:00:00Z',
    ...extra,
  });

describe('complaint views: given these events, expect these rows', () => {
  it('follow a complaint to its refund, with every step on its timeline', () => {
    const events = [
      opened(complaintId),
      event('ComplaintAssigned', complaintId, { complaintId, agent: 'alice' }),
      event('ComplaintProcessingStarted', complaintId, { complaintId }),
      event(
        'ComplaintResolved',
        complaintId,
        { complaintId, resolution: 'refund', refundCents: 300, refundId },
        '2026-12-02T10:05:00.000Z',
      ),
      event('RefundRequested', refundId, { refundId, orderId, customerId, amountCents: 300, reason: 'COMPLAINT_RESOLVED', complaintId }),
      event('PaymentRefunded', orderId, { orderId, customerId, amountCents: 300, refundId, complaintId }),
      event('ComplaintClosed', complaintId, { complaintId }, '2026-12-02T10:06:00.000Z'),
    ];
    const tables = given(complaintViews, events);
    expect(rowsOf(tables, 'complaints')).toEqual([
      {
        complaint_id: complaintId,
        customer_id: customerId,
        order_id: orderId,
        shipment_id: null,
        incident_id: null,
        title: 'Broken',
        priority: 'HIGH',
        category: 'PRODUCT',
        automatic: false,
        status: 'CLOSED',
        assignee: 'alice',
        refund_id: refundId,
        refund_cents: 300,
        refund_status: 'REFUNDED',
        refund_reason: null,
        correlation_id: correlationId,
        opened_at: '2026-12-02T10:00:00.000Z',
        resolved_at: '2026-12-02T10:05:00.000Z',
        closed_at: '2026-12-02T10:06:00.000Z',
      },
    ]);
    expect(rowsOf(tables, 'timeline').map((row) => row.type)).toEqual(events.map((e) => e.type));
  });

  it("put an incident's refund on the complaint the incident opened, and show a rejection's reason", () => {
    const tables = given(complaintViews, [
      opened(incidentId, { shipmentId, incidentId, automatic: true }),
      event('ComplaintEscalated', incidentId, {
        complaintId: incidentId,
        priority: 'HIGH',
        stage: 'UNASSIGNED',
        deadlineAt: '2026-12-02T14:00:00Z',
      }),
      event('RefundRequested', incidentId, {
        refundId: incidentId,
        orderId,
        customerId,
        amountCents: 900,
        reason: 'INCIDENT_REFUND',
        shipmentId,
        incidentId,
      }),
      event('RefundRejected', orderId, {
        refundId: incidentId,
        orderId,
        customerId,
        amountCents: 900,
        reason: 'EXCEEDS_PAYMENT',
        shipmentId,
        incidentId,
      }),
    ]);
    expect(rowsOf(tables, 'complaints')).toEqual([
      expect.objectContaining({
        complaint_id: incidentId,
        status: 'OPEN',
        escalation: 'UNASSIGNED',
        refund_status: 'REJECTED',
        refund_reason: 'EXCEEDS_PAYMENT',
      }),
    ]);
    expect(rowsOf(tables, 'timeline')).toHaveLength(4);
  });

  it("leave a cancelled order's refund out", () => {
    expect(complaintViews.project(event('PaymentRefunded', orderId, { orderId, customerId, amountCents: 100 }))).toEqual([]);
  });
});

describe('refunds per day', () => {
  it('count requests, refunds, rejections and cancellations by UTC day', () => {
    const rows = rowsOf(
      given(refundsDaily, [
        event(
          'RefundRequested',
          refundId,
          { refundId, orderId, customerId, amountCents: 300, reason: 'COMPLAINT_RESOLVED' },
          '2026-12-02T23:59:59+00:00',
        ),
        event('PaymentRefunded', orderId, { orderId, customerId, amountCents: 300, refundId }, '2026-12-03T00:00:01.000Z'),
        event(
          'RefundRejected',
          orderId,
          { refundId, orderId, customerId, amountCents: 50, reason: 'NO_PAYMENT' },
          '2026-12-03T00:00:02.000Z',
        ),
        event('PaymentRefunded', orderId, { orderId, customerId, amountCents: 1000 }, '2026-12-03T08:00:00.000Z'),
      ]),
      'refunds',
    );
    expect(rows).toEqual([
      { day: '2026-12-02', requested: 1, requested_cents: 300 },
      { day: '2026-12-03', refunded: 1, refunded_cents: 300, rejected: 1, rejected_cents: 50, cancellations: 1, cancellation_cents: 1000 },
    ]);
  });
});
