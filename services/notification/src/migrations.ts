import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    // One row per (event, template, recipient): its id is a UUID v5 of the three (notifications/notification.ts), so a
    // redelivered event finds its row instead of making a second one. `outcome_unknown` is set before each SMTP attempt
    // and cleared when the attempt's outcome is known: a row found with it set was being sent when its process died or
    // its server went silent (docs/adr/0050-exactly-one-email.md).
    id: 'notification/001_notifications',
    sql: `
      CREATE TABLE notifications (
        id uuid PRIMARY KEY,
        source_event_id uuid NOT NULL,
        source_event_type text NOT NULL,
        template text NOT NULL,
        locale text NOT NULL,
        customer_id uuid,
        order_id uuid,
        to_address text NOT NULL,
        subject text NOT NULL,
        message_id text NOT NULL UNIQUE,
        status text NOT NULL CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'SUPPRESSED')),
        reason text,
        attempts integer NOT NULL DEFAULT 0,
        outcome_unknown boolean NOT NULL DEFAULT false,
        last_error text,
        smtp_response text,
        deduplicated boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz
      );
      CREATE INDEX notifications_customer ON notifications (customer_id, id);
      CREATE INDEX notifications_order ON notifications (order_id, id);
    `,
  },
  {
    // The read models the emails are addressed from, fed by the same consumer in stream order (notifications/
    // consumer.ts): who a customer is and how to write to them, whose order and complaint an event is about, and
    // whether they want email at all.
    id: 'notification/100_recipients',
    sql: `
      CREATE TABLE recipients (customer_id uuid PRIMARY KEY, name text NOT NULL, email text NOT NULL, locale text NOT NULL DEFAULT 'en');
      CREATE TABLE order_customers (order_id uuid PRIMARY KEY, customer_id uuid NOT NULL, total_cents bigint NOT NULL);
      CREATE TABLE complaint_customers (complaint_id uuid PRIMARY KEY, customer_id uuid NOT NULL, order_id uuid, title text NOT NULL);
      CREATE TABLE preferences (customer_id uuid PRIMARY KEY, email boolean NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
    `,
  },
];
