import { ConflictError, given, NotFoundError, UnprocessableError } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { type ComplaintCommand, type ComplaintEvent, decideComplaint, evolveComplaint, initialComplaint } from './complaint.js';

const complaintId = '0190b000-0000-7000-8000-000000000001';
const customerId = '0190b000-0000-7000-8000-000000000002';
const orderId = '0190b000-0000-7000-8000-000000000003';
const refundId = '0190b000-0000-7000-8000-000000000004';
const deadlineAt = '2026-12-02T05:00:00Z';
const desk = { initialState: initialComplaint, decide: decideComplaint, evolve: evolveComplaint };

const open: ComplaintCommand = {
  type: 'OpenComplaint',
  complaintId,
  customerId,
  orderId,
  title: 'Wrong colour',
  description: 'I ordered red',
  priority: 'MEDIUM',
  category: 'PRODUCT',
  automatic: false,
  deadlineAt,
};
const opened: ComplaintEvent = {
  type: 'ComplaintOpened',
  data: {
    complaintId,
    customerId,
    orderId,
    title: 'Wrong colour',
    description: 'I ordered red',
    priority: 'MEDIUM',
    category: 'PRODUCT',
    automatic: false,
    deadlineAt,
  },
};
const assigned: ComplaintEvent = { type: 'ComplaintAssigned', data: { complaintId, agent: 'alice' } };
const started: ComplaintEvent = { type: 'ComplaintProcessingStarted', data: { complaintId } };
const resolved: ComplaintEvent = { type: 'ComplaintResolved', data: { complaintId, resolution: 'apologised' } };
const closed: ComplaintEvent = { type: 'ComplaintClosed', data: { complaintId } };
const escalate: ComplaintCommand = { type: 'EscalateComplaint', deadlineAt };

describe('complaint desk', () => {
  it('opens a complaint, once', () => {
    expect(given(desk, []).when(open)).toEqual({ events: [opened] });
    expect(given(desk, [opened]).when(open).error).toBeInstanceOf(ConflictError);
    // The same incident seen again opens nothing more.
    expect(given(desk, [opened]).when({ ...open, automatic: true })).toEqual({ events: [] });
  });

  it('refuses any step on a complaint that does not exist', () => {
    expect(given(desk, []).when({ type: 'StartProcessing' }).error).toBeInstanceOf(NotFoundError);
  });

  it('assigns an open complaint, and reassigns it until work starts', () => {
    expect(given(desk, [opened]).when({ type: 'AssignComplaint', agent: 'alice' })).toEqual({ events: [assigned] });
    expect(given(desk, [opened, assigned]).when({ type: 'AssignComplaint', agent: 'bob' })).toEqual({
      events: [{ type: 'ComplaintAssigned', data: { complaintId, agent: 'bob' } }],
    });
    expect(given(desk, [opened, assigned]).when({ type: 'AssignComplaint', agent: 'alice' })).toEqual({ events: [] });
    expect(given(desk, [opened, assigned, started]).when({ type: 'AssignComplaint', agent: 'bob' }).error).toBeInstanceOf(ConflictError);
  });

  it('starts only an assigned complaint', () => {
    expect(given(desk, [opened, assigned]).when({ type: 'StartProcessing' })).toEqual({ events: [started] });
    expect(given(desk, [opened]).when({ type: 'StartProcessing' }).error).toBeInstanceOf(ConflictError);
    expect(given(desk, [opened, assigned, started]).when({ type: 'StartProcessing' }).error).toBeInstanceOf(ConflictError);
  });

  it('resolves only one in progress, with a refund when it names its order', () => {
    const history = [opened, assigned, started];
    expect(given(desk, history).when({ type: 'ResolveComplaint', resolution: 'apologised' })).toEqual({ events: [resolved] });
    expect(given(desk, history).when({ type: 'ResolveComplaint', resolution: 'refunded', refundCents: 500, refundId })).toEqual({
      events: [{ type: 'ComplaintResolved', data: { complaintId, resolution: 'refunded', refundCents: 500, refundId } }],
    });
    expect(given(desk, [opened, assigned]).when({ type: 'ResolveComplaint', resolution: 'x' }).error).toBeInstanceOf(ConflictError);
  });

  it('refuses a refund for a complaint without an order (422)', () => {
    const { orderId: _none, ...withoutOrder } = opened.data as typeof opened.data & { orderId?: string };
    const history: ComplaintEvent[] = [{ type: 'ComplaintOpened', data: withoutOrder }, assigned, started];
    const outcome = given(desk, history).when({ type: 'ResolveComplaint', resolution: 'refunded', refundCents: 500, refundId });
    expect(outcome.error).toBeInstanceOf(UnprocessableError);
  });

  it('closes only a resolved complaint, and nothing moves a closed one', () => {
    expect(given(desk, [opened, assigned, started, resolved]).when({ type: 'CloseComplaint' })).toEqual({ events: [closed] });
    expect(given(desk, [opened, assigned, started]).when({ type: 'CloseComplaint' }).error).toBeInstanceOf(ConflictError);
    const done = [opened, assigned, started, resolved, closed];
    for (const command of [{ type: 'CloseComplaint' }, { type: 'StartProcessing' }, { type: 'AssignComplaint', agent: 'x' }] as const) {
      expect(given(desk, done).when(command).error).toBeInstanceOf(ConflictError);
    }
  });

  it('escalates an unanswered complaint once, by the stage its deadline caught it in', () => {
    expect(given(desk, [opened]).when(escalate)).toEqual({
      events: [{ type: 'ComplaintEscalated', data: { complaintId, priority: 'MEDIUM', stage: 'UNASSIGNED', deadlineAt } }],
    });
    const late = given(desk, [opened, assigned, started]).when(escalate);
    expect(late).toMatchObject({ events: [{ data: { stage: 'UNRESOLVED' } }] });
    const escalated = late.events ?? [];
    expect(given(desk, [opened, assigned, started, ...escalated]).when(escalate)).toEqual({ events: [] });
    expect(given(desk, [opened, assigned, started, resolved]).when(escalate)).toEqual({ events: [] });
  });

  it('evolves to what the API shows', () => {
    const state = [opened, assigned, started, resolved].reduce(evolveComplaint, initialComplaint);
    expect(state).toMatchObject({ status: 'RESOLVED', assignee: 'alice', resolution: 'apologised', orderId, escalation: null });
  });
});
