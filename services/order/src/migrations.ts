import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    id: 'order/001_carts_orders',
    sql: `
      CREATE TABLE carts (
        id uuid PRIMARY KEY,
        customer_id uuid NOT NULL,
        status text NOT NULL CHECK (status IN ('OPEN', 'CHECKED_OUT')),
        items jsonb NOT NULL DEFAULT '[]'::jsonb,
        order_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        cart_id uuid NOT NULL UNIQUE REFERENCES carts (id),
        customer_id uuid NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED')),
        reason text,
        lines jsonb NOT NULL,
        total_cents bigint NOT NULL CHECK (total_cents >= 0),
        correlation_id uuid NOT NULL,
        deadline_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX orders_customer ON orders (customer_id, id);
      CREATE INDEX orders_status ON orders (status, id);
    `,
  },
  {
    // The trace the checkout started: GET /api/orders/:id returns it, so a user can open the saga in Tempo or Jaeger.
    id: 'order/002_trace_id',
    sql: `ALTER TABLE orders ADD COLUMN trace_id text;`,
  },
];
