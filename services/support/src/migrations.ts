import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    id: 'support/001_complaints_refunds',
    sql: `
      CREATE TABLE complaints (
        id uuid PRIMARY KEY,
        customer_id uuid NOT NULL,
        order_id uuid,
        shipment_id uuid,
        incident_id uuid,
        title text NOT NULL,
        description text NOT NULL,
        priority text NOT NULL CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
        category text NOT NULL,
        automatic boolean NOT NULL,
        status text NOT NULL CHECK (status IN ('OPEN', 'ASSIGNED', 'IN_PROGRESS', 'RESOLVED', 'CLOSED')),
        deadline_at timestamptz NOT NULL,
        assignee text,
        resolution text,
        refund_cents bigint CHECK (refund_cents > 0),
        refund_id uuid,
        escalation text CHECK (escalation IN ('UNASSIGNED', 'UNRESOLVED')),
        correlation_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX complaints_customer ON complaints (customer_id, id);
      CREATE INDEX complaints_status ON complaints (status, id);
      CREATE INDEX complaints_order ON complaints (order_id, id) WHERE order_id IS NOT NULL;
      CREATE INDEX complaints_incident ON complaints (incident_id) WHERE incident_id IS NOT NULL;

      -- What happened to a complaint, in order: its events as the desk saw them (the timeline of GET /api/complaints/:id).
      CREATE TABLE complaint_timeline (
        event_id uuid PRIMARY KEY,
        complaint_id uuid NOT NULL,
        type text NOT NULL,
        occurred_at timestamptz NOT NULL,
        actor text NOT NULL,
        data jsonb NOT NULL
      );
      CREATE INDEX complaint_timeline_complaint ON complaint_timeline (complaint_id, occurred_at, event_id);

      CREATE TABLE refunds (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL,
        customer_id uuid NOT NULL,
        amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
        reason text NOT NULL,
        complaint_id uuid,
        shipment_id uuid,
        incident_id uuid,
        status text NOT NULL CHECK (status IN ('REQUESTED', 'REFUNDED', 'REJECTED')),
        rejection_reason text,
        requested_at timestamptz NOT NULL DEFAULT now(),
        answered_at timestamptz
      );
      CREATE INDEX refunds_complaint ON refunds (complaint_id) WHERE complaint_id IS NOT NULL;
      CREATE INDEX refunds_incident ON refunds (incident_id) WHERE incident_id IS NOT NULL;
    `,
  },
];
