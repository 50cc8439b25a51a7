import { DEADLINES_STREAM, type DomainEvent, EVENTS_STREAM, eventTypeFilter } from '@jetsaga/events';
import type { Addressed, CommandHandler, Reaction } from '@jetsaga/platform';
import {
  type Complaint,
  type ComplaintCommand,
  type ComplaintEvent,
  decideComplaint,
  evolveComplaint,
  initialComplaint,
} from './complaint.js';
import {
  cancelComplaintDeadline,
  type ComplaintDeadlineFired,
  complaintDeadlineMessage,
  deadlineAt,
  decodeComplaintDeadline,
  type ResponseDeadlines,
} from './deadlines.js';
import { recordSupportEvents } from '../metrics.js';
import { loadComplaints, saveComplaints } from './store.js';

export const SUPPORT_INCIDENTS_CONSUMER = 'support-incidents';
export const SUPPORT_DEADLINES_CONSUMER = 'support-deadlines';

/**
 * Complaints: opened over HTTP or by a lost or damaged parcel, moved by agents, escalated by their deadline. Opening one
 * sets its timer; resolving it removes the timer (a fired one is spent).
 */
export const complaints: CommandHandler<Complaint, ComplaintCommand, ComplaintEvent> = {
  initialState: initialComplaint,
  load: loadComplaints,
  decide: decideComplaint,
  evolve: evolveComplaint,
  save: saveComplaints,
  messages: ({ id, events }, newId) => {
    const opened = events.find((event) => event.type === 'ComplaintOpened');
    if (opened?.type === 'ComplaintOpened') return [complaintDeadlineMessage(opened, newId())];
    return events.some((event) => event.type === 'ComplaintResolved') ? [cancelComplaintDeadline(id, newId())] : [];
  },
};

/** Which incidents open a complaint by themselves, and how urgent it is: a parcel gone is worse than one broken. */
const INCIDENT_COMPLAINTS = {
  LOST: { priority: 'HIGH', category: 'PARCEL_LOST', title: 'Parcel lost' },
  DAMAGED: { priority: 'MEDIUM', category: 'PARCEL_DAMAGED', title: 'Parcel damaged' },
} as const;

/**
 * A LOST or DAMAGED incident opens a complaint for the customer, linked to the parcel (choreography). Its id is the
 * incident's, so the same incident can only ever open one; its deadline runs from when the incident was reported.
 */
export function incidentComplaint(event: DomainEvent, deadlines: ResponseDeadlines): Addressed<ComplaintCommand> | undefined {
  if (event.type !== 'IncidentReported') return undefined;
  const { kind, incidentId, shipmentId, orderId, customerId, description } = event.data;
  if (kind !== 'LOST' && kind !== 'DAMAGED') return undefined;
  const { priority, category, title } = INCIDENT_COMPLAINTS[kind];
  return {
    id: incidentId,
    command: {
      type: 'OpenComplaint',
      complaintId: incidentId,
      customerId,
      orderId,
      shipmentId,
      incidentId,
      title,
      description,
      priority,
      category,
      automatic: true,
      deadlineAt: deadlineAt(new Date(event.occurredAt), priority, deadlines),
    },
  };
}

export function incidentReaction(deadlines: ResponseDeadlines): Reaction<DomainEvent, Complaint, ComplaintCommand> {
  return {
    spec: { stream: EVENTS_STREAM, durable: SUPPORT_INCIDENTS_CONSUMER, filterSubjects: ['IncidentReported'].map(eventTypeFilter) },
    react: (event) => incidentComplaint(event, deadlines),
    actor: 'support-service',
    handler: complaints,
    committed: (applied) => recordSupportEvents(applied.flatMap((change) => change.events)),
  };
}

/** A complaint's response deadline fired: it escalates if it is still unassigned or unresolved. */
export const deadlineReaction: Reaction<ComplaintDeadlineFired, Complaint, ComplaintCommand> = {
  spec: { stream: DEADLINES_STREAM, durable: SUPPORT_DEADLINES_CONSUMER, filterSubjects: ['deadlines.complaint.*.fired'] },
  decode: decodeComplaintDeadline,
  identify: (deadline) => ({ id: deadline.deadlineId, type: 'ComplaintDeadline' }),
  react: (deadline) => ({ id: deadline.complaintId, command: { type: 'EscalateComplaint', deadlineAt: deadline.deadlineAt } }),
  metadata: (deadline, ids) => ({
    correlationId: deadline.correlationId,
    causationId: deadline.deadlineId,
    actor: 'deadline',
    occurredAt: ids.now().toISOString(),
  }),
  actor: 'deadline',
  handler: complaints,
  committed: (applied) => recordSupportEvents(applied.flatMap((change) => change.events)),
};
