import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    id: 'sales/001_sales',
    sql: `
      CREATE TABLE sales (
        order_id uuid PRIMARY KEY,
        customer_id uuid,
        status text NOT NULL CHECK (status IN ('CONFIRMED', 'VOIDED')),
        lines jsonb NOT NULL,
        total_cents bigint NOT NULL CHECK (total_cents >= 0),
        confirmed_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX sales_confirmed_at ON sales (confirmed_at) WHERE status = 'CONFIRMED';
    `,
  },
  {
    id: 'sales/002_cancelled_sales',
    sql: `
      ALTER TABLE sales DROP CONSTRAINT sales_status_check;
      ALTER TABLE sales ADD CONSTRAINT sales_status_check CHECK (status IN ('CONFIRMED', 'CANCELLED', 'VOIDED'));
    `,
  },
  {
    id: 'sales/003_placed_orders',
    sql: `
      -- The orders sales saw placed (OrderPlaced): a payment confirms a sale only for one of them, at its total.
      CREATE TABLE placed_orders (
        order_id uuid PRIMARY KEY,
        customer_id uuid NOT NULL,
        total_cents bigint NOT NULL CHECK (total_cents >= 0),
        placed_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];
