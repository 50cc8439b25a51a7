import { createEvent, type EventData, type EventType } from '@jetsaga/events';
import { given, givenReaction } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { incidentRefundReaction } from './reactions.js';
import { decideRefund, evolveRefund, initialRefund, type RequestRefund } from './refund.js';

const refundId = '0190b000-0000-7000-8000-000000000201';
const orderId = '0190b000-0000-7000-8000-000000000202';
const customerId = '0190b000-0000-7000-8000-000000000203';
const shipmentId = '0190b000-0000-7000-8000-000000000204';
const request: RequestRefund = { type: 'RequestRefund', refundId, orderId, customerId, amountCents: 700, reason: 'COMPLAINT_RESOLVED' };
const refundDesk = { initialState: initialRefund, decide: decideRefund, evolve: evolveRefund };
const meta = {
  id: '0190b000-0000-7000-8000-000000000205',
  occurredAt: '2026-12-02T03:00:00Z',
  correlationId: orderId,
  causationId: 'x',
  actor: 't',
};
const event = <T extends EventType>(type: T, data: EventData<T>) => createEvent(type, shipmentId, data, meta);
const resolved = (resolution: 'RESHIP' | 'REFUND' | 'NONE') =>
  event('IncidentResolved', {
    shipmentId,
    orderId,
    customerId,
    incidentId: refundId,
    resolution,
    note: '',
    requested: resolution,
    amountCents: resolution === 'REFUND' ? 900 : 0,
  });

describe('refund requests', () => {
  it('asks payment once per refund id', () => {
    const first = given(refundDesk, []).when(request);
    expect(first).toEqual({
      events: [{ type: 'RefundRequested', data: { refundId, orderId, customerId, amountCents: 700, reason: 'COMPLAINT_RESOLVED' } }],
    });
    expect(given(refundDesk, first.events ?? []).when(request)).toEqual({ events: [] });
  });

  it('asks for the value of the lines of a parcel whose incident was settled by a refund, and nothing for the others', () => {
    expect(givenReaction(incidentRefundReaction).when(resolved('REFUND'))).toMatchObject({
      id: refundId,
      events: [
        {
          type: 'RefundRequested',
          data: { refundId, orderId, customerId, amountCents: 900, shipmentId, incidentId: refundId, reason: 'INCIDENT_REFUND' },
        },
      ],
    });
    expect(givenReaction(incidentRefundReaction).when(resolved('RESHIP'))).toEqual({ ignored: true });
    expect(givenReaction(incidentRefundReaction).when(resolved('NONE'))).toEqual({ ignored: true });
  });
});
