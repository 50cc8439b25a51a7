import type { EventDraft } from '@jetsaga/events';

export type RefundStatus = 'REQUESTED' | 'REFUNDED' | 'REJECTED';

/** A refund support asked payment for; payment's answer (PaymentRefunded or RefundRejected) settles it. */
export type Refund =
  | { status: 'NONE' }
  | {
      status: RefundStatus;
      id: string;
      orderId: string;
      customerId: string;
      amountCents: number;
      reason: string;
      complaintId: string | null;
      shipmentId: string | null;
      incidentId: string | null;
    };

export type RequestRefund = {
  type: 'RequestRefund';
  refundId: string;
  orderId: string;
  customerId: string;
  amountCents: number;
  reason: string;
  complaintId?: string | undefined;
  shipmentId?: string | undefined;
  incidentId?: string | undefined;
};

export type RefundEvent = EventDraft<'RefundRequested'>;

export const initialRefund: Refund = { status: 'NONE' };

/** Why support asks: a complaint resolved with money, or a parcel whose incident was settled by a refund. */
export const REFUND_REASONS = { complaint: 'COMPLAINT_RESOLVED', incident: 'INCIDENT_REFUND' } as const;

/** A refund is asked for once; asking again with its id (a redelivered incident) asks nothing more. */
export function decideRefund(state: Refund, command: RequestRefund): RefundEvent[] {
  if (state.status !== 'NONE') return [];
  const { type: _type, complaintId, shipmentId, incidentId, ...rest } = command;
  return [
    {
      type: 'RefundRequested',
      data: {
        ...rest,
        ...(complaintId ? { complaintId } : {}),
        ...(shipmentId ? { shipmentId } : {}),
        ...(incidentId ? { incidentId } : {}),
      },
    },
  ];
}

export function evolveRefund(_state: Refund, event: RefundEvent): Refund {
  const { refundId, complaintId, shipmentId, incidentId, ...rest } = event.data;
  return {
    status: 'REQUESTED',
    id: refundId,
    ...rest,
    complaintId: complaintId ?? null,
    shipmentId: shipmentId ?? null,
    incidentId: incidentId ?? null,
  };
}
