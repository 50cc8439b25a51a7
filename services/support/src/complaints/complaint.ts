import type { ComplaintPriority, EventDraft, EventOfType } from '@jetsaga/events';
import { ConflictError, NotFoundError, UnprocessableError } from '@jetsaga/platform';

export type ComplaintStatus = 'OPEN' | 'ASSIGNED' | 'IN_PROGRESS' | 'RESOLVED' | 'CLOSED';
export type EscalationStage = 'UNASSIGNED' | 'UNRESOLVED';

export type OpenedComplaint = {
  status: ComplaintStatus;
  id: string;
  customerId: string;
  orderId: string | null;
  shipmentId: string | null;
  incidentId: string | null;
  title: string;
  description: string;
  priority: ComplaintPriority;
  category: string;
  automatic: boolean;
  deadlineAt: string;
  assignee: string | null;
  resolution: string | null;
  refundCents: number | null;
  refundId: string | null;
  escalation: EscalationStage | null;
};

export type Complaint = { status: 'NONE' } | OpenedComplaint;

export type OpenComplaint = {
  type: 'OpenComplaint';
  complaintId: string;
  customerId: string;
  orderId?: string | undefined;
  shipmentId?: string | undefined;
  incidentId?: string | undefined;
  title: string;
  description: string;
  priority: ComplaintPriority;
  category: string;
  automatic: boolean;
  deadlineAt: string;
};

export type ComplaintCommand =
  | OpenComplaint
  | { type: 'AssignComplaint'; agent: string }
  | { type: 'StartProcessing' }
  /** `refundId` is the id of the refund this resolution asks for, given with `refundCents`. */
  | { type: 'ResolveComplaint'; resolution: string; refundCents?: number | undefined; refundId?: string | undefined }
  | { type: 'CloseComplaint' }
  /** The response deadline fired (a JetStream schedule); `deadlineAt` is the one it was set for. */
  | { type: 'EscalateComplaint'; deadlineAt: string };

export type ComplaintEvent = EventDraft<
  'ComplaintOpened' | 'ComplaintAssigned' | 'ComplaintProcessingStarted' | 'ComplaintResolved' | 'ComplaintClosed' | 'ComplaintEscalated'
>;

export const initialComplaint: Complaint = { status: 'NONE' };

/** A complaint is answered once resolved; a deadline that fires after that has nothing to escalate. */
export function isAnswered(complaint: Complaint): boolean {
  return complaint.status === 'RESOLVED' || complaint.status === 'CLOSED';
}

function refuse(state: OpenedComplaint, command: ComplaintCommand['type'], allowed: readonly ComplaintStatus[]): never {
  throw new ConflictError(`complaint ${state.id} is ${state.status}; ${command} needs ${allowed.join(' or ')}`);
}

/**
 * The complaint desk's rules: OPEN -> ASSIGNED -> IN_PROGRESS -> RESOLVED -> CLOSED, an agent may be reassigned until
 * work starts, and any other transition is refused (409) with nothing changed. A deadline escalates once, by the stage
 * it caught the complaint in.
 */
export function decideComplaint(state: Complaint, command: ComplaintCommand): ComplaintEvent[] {
  if (command.type === 'OpenComplaint') {
    // The same incident seen twice opens one complaint; a client reusing an id is a conflict.
    if (state.status !== 'NONE') {
      if (command.automatic) return [];
      throw new ConflictError(`complaint ${command.complaintId} already exists`);
    }
    const { type: _type, complaintId, orderId, shipmentId, incidentId, ...rest } = command;
    return [
      {
        type: 'ComplaintOpened',
        data: {
          complaintId,
          ...(orderId ? { orderId } : {}),
          ...(shipmentId ? { shipmentId } : {}),
          ...(incidentId ? { incidentId } : {}),
          ...rest,
        },
      },
    ];
  }
  if (state.status === 'NONE') throw new NotFoundError('the complaint does not exist');
  const complaintId = state.id;
  switch (command.type) {
    case 'AssignComplaint':
      if (state.status !== 'OPEN' && state.status !== 'ASSIGNED') refuse(state, command.type, ['OPEN', 'ASSIGNED']);
      if (state.assignee === command.agent) return [];
      return [{ type: 'ComplaintAssigned', data: { complaintId, agent: command.agent } }];
    case 'StartProcessing':
      if (state.status !== 'ASSIGNED') refuse(state, command.type, ['ASSIGNED']);
      return [{ type: 'ComplaintProcessingStarted', data: { complaintId } }];
    case 'ResolveComplaint': {
      if (state.status !== 'IN_PROGRESS') refuse(state, command.type, ['IN_PROGRESS']);
      const { resolution, refundCents, refundId } = command;
      if (refundCents === undefined) return [{ type: 'ComplaintResolved', data: { complaintId, resolution } }];
      if (!state.orderId) {
        throw new UnprocessableError(`complaint ${complaintId} names no order to refund`, [
          { field: 'refundCents', reason: 'the complaint has no orderId' },
        ]);
      }
      if (!refundId) throw new Error('a refund needs its id');
      return [{ type: 'ComplaintResolved', data: { complaintId, resolution, refundCents, refundId } }];
    }
    case 'CloseComplaint':
      if (state.status !== 'RESOLVED') refuse(state, command.type, ['RESOLVED']);
      return [{ type: 'ComplaintClosed', data: { complaintId } }];
    case 'EscalateComplaint': {
      if (isAnswered(state) || state.escalation) return [];
      const stage: EscalationStage = state.status === 'OPEN' ? 'UNASSIGNED' : 'UNRESOLVED';
      return [{ type: 'ComplaintEscalated', data: { complaintId, priority: state.priority, stage, deadlineAt: command.deadlineAt } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`unknown complaint command ${JSON.stringify(unknown)}`);
    }
  }
}

type ComplaintEventLike = ComplaintEvent | EventOfType<ComplaintEvent['type']>;

export function evolveComplaint(state: Complaint, event: ComplaintEventLike): Complaint {
  if (event.type === 'ComplaintOpened') {
    const { complaintId, orderId, shipmentId, incidentId, ...rest } = event.data;
    return {
      status: 'OPEN',
      id: complaintId,
      orderId: orderId ?? null,
      shipmentId: shipmentId ?? null,
      incidentId: incidentId ?? null,
      ...rest,
      assignee: null,
      resolution: null,
      refundCents: null,
      refundId: null,
      escalation: null,
    };
  }
  if (state.status === 'NONE') return state;
  switch (event.type) {
    case 'ComplaintAssigned':
      return { ...state, status: 'ASSIGNED', assignee: event.data.agent };
    case 'ComplaintProcessingStarted':
      return { ...state, status: 'IN_PROGRESS' };
    case 'ComplaintResolved':
      return {
        ...state,
        status: 'RESOLVED',
        resolution: event.data.resolution,
        refundCents: event.data.refundCents ?? null,
        refundId: event.data.refundId ?? null,
      };
    case 'ComplaintClosed':
      return { ...state, status: 'CLOSED' };
    case 'ComplaintEscalated':
      return { ...state, escalation: event.data.stage };
    default: {
      const unknown: never = event;
      throw new Error(`unknown complaint event ${JSON.stringify(unknown)}`);
    }
  }
}
