import type { ComplaintPriority, DomainEvent } from '@jetsaga/events';
import { type Change, type Db, lockRows, type Tx } from '@jetsaga/platform';
import type { Complaint, ComplaintStatus, EscalationStage, OpenedComplaint } from './complaint.js';

type ComplaintRow = {
  id: string;
  customer_id: string;
  order_id: string | null;
  shipment_id: string | null;
  incident_id: string | null;
  title: string;
  description: string;
  priority: ComplaintPriority;
  category: string;
  automatic: boolean;
  status: ComplaintStatus;
  deadline_at: Date;
  assignee: string | null;
  resolution: string | null;
  refund_cents: string | null;
  refund_id: string | null;
  escalation: EscalationStage | null;
  correlation_id: string;
  created_at: Date;
  updated_at: Date;
};

export type StoredComplaint = OpenedComplaint & { correlationId: string; createdAt: Date; updatedAt: Date };

const COLUMNS =
  'id, customer_id, order_id, shipment_id, incident_id, title, description, priority, category, automatic, status, deadline_at, ' +
  'assignee, resolution, refund_cents, refund_id, escalation, correlation_id, created_at, updated_at';

function fromRow(row: ComplaintRow): StoredComplaint {
  return {
    status: row.status,
    id: row.id,
    customerId: row.customer_id,
    orderId: row.order_id,
    shipmentId: row.shipment_id,
    incidentId: row.incident_id,
    title: row.title,
    description: row.description,
    priority: row.priority,
    category: row.category,
    automatic: row.automatic,
    deadlineAt: row.deadline_at.toISOString(),
    assignee: row.assignee,
    resolution: row.resolution,
    refundCents: row.refund_cents === null ? null : Number(row.refund_cents),
    refundId: row.refund_id,
    escalation: row.escalation,
    correlationId: row.correlation_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function loadComplaints(tx: Tx, ids: readonly string[]): Promise<Map<string, StoredComplaint>> {
  return lockRows(tx, { table: 'complaints', key: 'id', columns: COLUMNS }, ids, fromRow);
}

export async function findComplaint(db: Pick<Db, 'query'>, id: string): Promise<StoredComplaint | undefined> {
  const { rows } = await db.query<ComplaintRow>(`SELECT ${COLUMNS} FROM complaints WHERE id = $1`, [id]);
  return rows[0] && fromRow(rows[0]);
}

/** Events of one complaint (or of a refund it caused), written to its timeline once each (keyed by event id). */
export async function recordTimeline(tx: Pick<Tx, 'query'>, entries: ReadonlyArray<{ complaintId: string; event: DomainEvent }>) {
  if (entries.length === 0) return;
  await tx.query(
    `INSERT INTO complaint_timeline (event_id, complaint_id, type, occurred_at, actor, data)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::jsonb[])
     ON CONFLICT (event_id) DO NOTHING`,
    [
      entries.map((entry) => entry.event.id),
      entries.map((entry) => entry.complaintId),
      entries.map((entry) => entry.event.type),
      entries.map((entry) => entry.event.occurredAt),
      entries.map((entry) => entry.event.actor),
      entries.map((entry) => JSON.stringify(entry.event.data)),
    ],
  );
}

/** New complaints are inserted with their saga's correlation; the others change in one statement. */
export async function saveComplaints(tx: Tx, changes: readonly Change<Complaint>[]): Promise<void> {
  const opened = changes.flatMap((change) => (!change.existed && change.state.status !== 'NONE' ? [change] : []));
  for (const { state, events, id } of opened) {
    if (state.status === 'NONE') continue;
    await tx.query(
      `INSERT INTO complaints (id, customer_id, order_id, shipment_id, incident_id, title, description, priority, category,
                               automatic, status, deadline_at, assignee, resolution, refund_cents, refund_id, escalation, correlation_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
      [
        state.id,
        state.customerId,
        state.orderId,
        state.shipmentId,
        state.incidentId,
        state.title,
        state.description,
        state.priority,
        state.category,
        state.automatic,
        state.status,
        state.deadlineAt,
        state.assignee,
        state.resolution,
        state.refundCents,
        state.refundId,
        state.escalation,
        events[0]?.correlationId ?? id,
      ],
    );
  }
  const updated = changes.flatMap((change) => (change.existed && change.state.status !== 'NONE' ? [change.state as OpenedComplaint] : []));
  if (updated.length > 0) {
    await tx.query(
      `UPDATE complaints c SET status = v.status, assignee = v.assignee, resolution = v.resolution, refund_cents = v.refund_cents,
              refund_id = v.refund_id, escalation = v.escalation, updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::uuid[], $7::text[])
         AS v(id, status, assignee, resolution, refund_cents, refund_id, escalation)
       WHERE c.id = v.id`,
      [
        updated.map((c) => c.id),
        updated.map((c) => c.status),
        updated.map((c) => c.assignee),
        updated.map((c) => c.resolution),
        updated.map((c) => c.refundCents),
        updated.map((c) => c.refundId),
        updated.map((c) => c.escalation),
      ],
    );
  }
  await recordTimeline(
    tx,
    changes.flatMap((change) => change.events.map((event) => ({ complaintId: change.id, event }))),
  );
}

type RefundRow = {
  id: string;
  amount_cents: string;
  reason: string;
  status: string;
  rejection_reason: string | null;
  incident_id: string | null;
  requested_at: Date;
  answered_at: Date | null;
};
type TimelineRow = { event_id: string; type: string; occurred_at: Date; actor: string; data: unknown };

/** A complaint as the API shows it: its fields, the refunds it or its incident caused, and its timeline. */
export async function complaintDetail(db: Pick<Db, 'query'>, complaint: StoredComplaint) {
  const [refunds, timeline] = await Promise.all([
    db.query<RefundRow>(
      `SELECT id, amount_cents, reason, status, rejection_reason, incident_id, requested_at, answered_at FROM refunds
       WHERE complaint_id = $1 OR (incident_id IS NOT NULL AND incident_id = $2) ORDER BY requested_at, id`,
      [complaint.id, complaint.incidentId],
    ),
    db.query<TimelineRow>(
      'SELECT event_id, type, occurred_at, actor, data FROM complaint_timeline WHERE complaint_id = $1 ORDER BY occurred_at, event_id',
      [complaint.id],
    ),
  ]);
  return {
    ...complaintView(complaint),
    refunds: refunds.rows.map((row) => ({
      refundId: row.id,
      amountCents: Number(row.amount_cents),
      reason: row.reason,
      status: row.status,
      ...(row.rejection_reason ? { rejectionReason: row.rejection_reason } : {}),
      ...(row.incident_id ? { incidentId: row.incident_id } : {}),
      requestedAt: row.requested_at.toISOString(),
      ...(row.answered_at ? { answeredAt: row.answered_at.toISOString() } : {}),
    })),
    timeline: timeline.rows.map((row) => ({
      eventId: row.event_id,
      type: row.type,
      occurredAt: row.occurred_at.toISOString(),
      actor: row.actor,
      data: row.data,
    })),
  };
}

export function complaintView(c: StoredComplaint) {
  return {
    id: c.id,
    customerId: c.customerId,
    ...(c.orderId ? { orderId: c.orderId } : {}),
    ...(c.shipmentId ? { shipmentId: c.shipmentId } : {}),
    ...(c.incidentId ? { incidentId: c.incidentId } : {}),
    title: c.title,
    description: c.description,
    priority: c.priority,
    category: c.category,
    automatic: c.automatic,
    status: c.status,
    deadlineAt: c.deadlineAt,
    ...(c.assignee ? { assignee: c.assignee } : {}),
    ...(c.resolution ? { resolution: c.resolution } : {}),
    ...(c.refundCents !== null ? { refundCents: c.refundCents } : {}),
    ...(c.refundId ? { refundId: c.refundId } : {}),
    ...(c.escalation ? { escalation: c.escalation } : {}),
    correlationId: c.correlationId,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

export type ComplaintFilter = {
  status?: ComplaintStatus | undefined;
  priority?: ComplaintPriority | undefined;
  customerId?: string | undefined;
  orderId?: string | undefined;
  assignee?: string | undefined;
  /** Ids are v7 UUIDs, so id order is creation order: the cursor is the last id seen. */
  after?: string | undefined;
  limit: number;
};

export async function listComplaints(db: Pick<Db, 'query'>, filter: ComplaintFilter): Promise<StoredComplaint[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    conditions.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.status) add('status = ?', filter.status);
  if (filter.priority) add('priority = ?', filter.priority);
  if (filter.customerId) add('customer_id = ?', filter.customerId);
  if (filter.orderId) add('order_id = ?', filter.orderId);
  if (filter.assignee) add('assignee = ?', filter.assignee);
  if (filter.after) add('id > ?', filter.after);
  params.push(filter.limit + 1);
  const { rows } = await db.query<ComplaintRow>(
    `SELECT ${COLUMNS} FROM complaints ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return rows.map(fromRow);
}
