import { type DomainEvent, EVENTS_STREAM, eventTypeFilter } from '@jetsaga/events';
import {
  type Addressed,
  type BatchItem,
  type CommandHandler,
  type ConsumerDefinition,
  type Db,
  lockRows,
  type Reaction,
  type Tx,
  withTransaction,
} from '@jetsaga/platform';
import { recordTimeline } from '../complaints/store.js';
import { recordSupportEvents } from '../metrics.js';
import {
  decideRefund,
  evolveRefund,
  initialRefund,
  REFUND_REASONS,
  type Refund,
  type RefundEvent,
  type RefundStatus,
  type RequestRefund,
} from './refund.js';

export const SUPPORT_REFUNDS_CONSUMER = 'support-refunds';
export const SUPPORT_REFUND_OUTCOMES_CONSUMER = 'support-refund-outcomes';

type RefundRow = {
  id: string;
  order_id: string;
  customer_id: string;
  amount_cents: string;
  reason: string;
  complaint_id: string | null;
  shipment_id: string | null;
  incident_id: string | null;
  status: RefundStatus;
};
const REFUNDS = {
  table: 'refunds',
  key: 'id',
  columns: 'id, order_id, customer_id, amount_cents, reason, complaint_id, shipment_id, incident_id, status',
};
const fromRow = (row: RefundRow): Refund => ({
  status: row.status,
  id: row.id,
  orderId: row.order_id,
  customerId: row.customer_id,
  amountCents: Number(row.amount_cents),
  reason: row.reason,
  complaintId: row.complaint_id,
  shipmentId: row.shipment_id,
  incidentId: row.incident_id,
});

/** Refunds support asked for: each request once, kept with what it was for until payment answers. */
export const refunds: CommandHandler<Refund, RequestRefund, RefundEvent> = {
  initialState: initialRefund,
  load: (tx, ids) => lockRows(tx, REFUNDS, ids, fromRow),
  decide: decideRefund,
  evolve: evolveRefund,
  async save(tx, changes) {
    const requested = changes.flatMap((change) => (!change.existed && change.state.status !== 'NONE' ? [change.state] : []));
    if (requested.length === 0) return;
    await tx.query(
      `INSERT INTO refunds (id, order_id, customer_id, amount_cents, reason, complaint_id, shipment_id, incident_id, status)
       SELECT v.*, 'REQUESTED' FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::uuid[], $7::uuid[], $8::uuid[]) AS v`,
      [
        requested.map((r) => r.id),
        requested.map((r) => r.orderId),
        requested.map((r) => r.customerId),
        requested.map((r) => r.amountCents),
        requested.map((r) => r.reason),
        requested.map((r) => r.complaintId),
        requested.map((r) => r.shipmentId),
        requested.map((r) => r.incidentId),
      ],
    );
    await complaintTimelines(
      tx,
      changes.flatMap((change) => change.events),
    );
  },
};

/** Refund events belong on the timeline of the complaint they are for: by its id, or by the incident it was opened for. */
async function complaintTimelines(tx: Pick<Tx, 'query'>, events: readonly DomainEvent[]): Promise<void> {
  const refundEvents = events.filter(
    (event): event is DomainEvent & { type: 'RefundRequested' | 'PaymentRefunded' | 'RefundRejected' } =>
      event.type === 'RefundRequested' || event.type === 'PaymentRefunded' || event.type === 'RefundRejected',
  );
  if (refundEvents.length === 0) return;
  const incidents = [
    ...new Set(refundEvents.flatMap((event) => (event.data.incidentId && !event.data.complaintId ? [event.data.incidentId] : []))),
  ];
  const byIncident = new Map<string, string>();
  if (incidents.length > 0) {
    const { rows } = await tx.query<{ id: string; incident_id: string }>(
      'SELECT id, incident_id FROM complaints WHERE incident_id = ANY($1::uuid[])',
      [incidents],
    );
    for (const row of rows) byIncident.set(row.incident_id, row.id);
  }
  await recordTimeline(
    tx,
    refundEvents.flatMap((event) => {
      const complaintId = event.data.complaintId ?? (event.data.incidentId ? byIncident.get(event.data.incidentId) : undefined);
      return complaintId ? [{ complaintId, event }] : [];
    }),
  );
}

/** A parcel's incident settled by a refund asks payment for the value of its lines; the refund's id is the incident's. */
export function incidentRefund(event: DomainEvent): Addressed<RequestRefund> | undefined {
  if (event.type !== 'IncidentResolved' || event.data.resolution !== 'REFUND') return undefined;
  const { incidentId, shipmentId, orderId, customerId, amountCents } = event.data;
  return {
    id: incidentId,
    command: {
      type: 'RequestRefund',
      refundId: incidentId,
      orderId,
      customerId,
      amountCents,
      reason: REFUND_REASONS.incident,
      shipmentId,
      incidentId,
    },
  };
}

export const incidentRefundReaction: Reaction<DomainEvent, Refund, RequestRefund> = {
  spec: { stream: EVENTS_STREAM, durable: SUPPORT_REFUNDS_CONSUMER, filterSubjects: ['IncidentResolved'].map(eventTypeFilter) },
  react: incidentRefund,
  actor: 'support-service',
  handler: refunds,
  committed: (applied) => recordSupportEvents(applied.flatMap((change) => change.events)),
};

/**
 * Payment's answer settles a refund: the row shows it and the complaint's timeline gets the event. Setting a final
 * status is idempotent, and timeline rows are keyed by event id, so a redelivered batch changes nothing more; no
 * event is emitted, so no inbox claim is needed.
 */
export function refundOutcomeConsumer(deps: { db: Db }): ConsumerDefinition<DomainEvent> {
  return {
    spec: {
      stream: EVENTS_STREAM,
      durable: SUPPORT_REFUND_OUTCOMES_CONSUMER,
      filterSubjects: ['PaymentRefunded', 'RefundRejected'].map(eventTypeFilter),
    },
    handleBatch: async (items: readonly BatchItem<DomainEvent>[]) => {
      const answers = items
        .map((item) => item.message)
        .filter(
          (event): event is DomainEvent & { type: 'PaymentRefunded' | 'RefundRejected' } =>
            (event.type === 'PaymentRefunded' && event.data.refundId !== undefined) || event.type === 'RefundRejected',
        );
      if (answers.length === 0) return;
      await withTransaction(deps.db, async (tx) => {
        await tx.query(
          `UPDATE refunds r SET status = v.status, rejection_reason = v.reason, answered_at = v.at
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS v(id, status, reason, at)
           WHERE r.id = v.id AND r.status = 'REQUESTED'`,
          [
            answers.map((event) => event.data.refundId),
            answers.map((event) => (event.type === 'PaymentRefunded' ? 'REFUNDED' : 'REJECTED')),
            answers.map((event) => (event.type === 'RefundRejected' ? event.data.reason : null)),
            answers.map((event) => event.occurredAt),
          ],
        );
        await complaintTimelines(tx, answers);
      });
      recordSupportEvents(answers);
    },
  };
}
