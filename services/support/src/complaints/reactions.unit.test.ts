import { createEvent, type EventData, type EventType } from '@jetsaga/events';
import { givenReaction } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RESPONSE_DEADLINES } from './deadlines.js';
import { complaints, deadlineReaction, incidentReaction } from './reactions.js';

const shipmentId = '0190b000-0000-7000-8000-000000000101';
const orderId = '0190b000-0000-7000-8000-000000000102';
const customerId = '0190b000-0000-7000-8000-000000000103';
const incidentId = '0190b000-0000-7000-8000-000000000104';
const meta = {
  id: '0190b000-0000-7000-8000-000000000105',
  occurredAt: '2026-12-02T03:00:00.000Z',
  correlationId: orderId,
  causationId: 'x',
  actor: 'test',
};
const event = <T extends EventType>(type: T, data: EventData<T>) => createEvent(type, shipmentId, data, meta);
const incident = (kind: 'LOST' | 'DAMAGED' | 'DELAYED') =>
  event('IncidentReported', { shipmentId, orderId, customerId, incidentId, kind, description: 'gone', automatic: false });
const reaction = incidentReaction(DEFAULT_RESPONSE_DEADLINES);

describe('support reactions', () => {
  it('opens a HIGH complaint for a lost parcel, linked to it, its deadline from the report', () => {
    expect(givenReaction(reaction).when(incident('LOST'))).toMatchObject({
      id: incidentId,
      events: [
        {
          type: 'ComplaintOpened',
          data: {
            complaintId: incidentId,
            customerId,
            orderId,
            shipmentId,
            incidentId,
            priority: 'HIGH',
            automatic: true,
            deadlineAt: '2026-12-02T07:00:00Z',
          },
        },
      ],
    });
  });

  it('opens a MEDIUM one for a damaged parcel, and none for a late one', () => {
    expect(givenReaction(reaction).when(incident('DAMAGED'))).toMatchObject({
      events: [{ data: { priority: 'MEDIUM', category: 'PARCEL_DAMAGED' } }],
    });
    expect(givenReaction(reaction).when(incident('DELAYED'))).toEqual({ ignored: true });
  });

  it('opens one complaint for the same incident seen twice', () => {
    const first = givenReaction(reaction).when(incident('LOST'));
    if (first.error || first.ignored) throw new Error('no outcome');
    expect(givenReaction(reaction, { state: first.state }).when(incident('LOST'))).toMatchObject({ events: [] });
  });

  it('escalates on its deadline an automatic complaint nobody took', () => {
    const opened = givenReaction(reaction).when(incident('LOST'));
    if (opened.error || opened.ignored) throw new Error('no outcome');
    const fired = {
      deadlineId: meta.id,
      complaintId: incidentId,
      correlationId: orderId,
      causationId: 'x',
      deadlineAt: '2026-12-02T07:00:00Z',
    };
    expect(givenReaction(deadlineReaction, { state: opened.state }).when(fired)).toMatchObject({
      events: [{ type: 'ComplaintEscalated', data: { stage: 'UNASSIGNED', priority: 'HIGH' } }],
    });
  });

  it('sets the timer when a complaint opens and removes it when it is resolved', () => {
    const opened = givenReaction(reaction).when(incident('LOST'));
    if (opened.error || opened.ignored) throw new Error('no outcome');
    const openedEvent = createEvent('ComplaintOpened', incidentId, opened.events[0]!.data as EventData<'ComplaintOpened'>, meta);
    const [timer] = complaints.messages!({ id: incidentId, state: opened.state, events: [openedEvent], meta }, () => 'timer-id');
    expect(timer).toMatchObject({
      subject: `deadlines.complaint.${incidentId}.schedule`,
      headers: { 'Nats-Schedule': '@at 2026-12-02T07:00:00Z', 'Nats-Schedule-Target': `deadlines.complaint.${incidentId}.fired` },
    });
    const resolved = createEvent('ComplaintResolved', incidentId, { complaintId: incidentId, resolution: 'ok' }, meta);
    expect(complaints.messages!({ id: incidentId, state: opened.state, events: [resolved], meta }, () => 'purge-id')).toMatchObject([
      { headers: { 'Nats-Schedule-Next': 'purge', 'Nats-Scheduler': `deadlines.complaint.${incidentId}.schedule` } },
    ]);
  });
});
