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
  {
    // Order's read model of customers and prices (services/order/src/catalog, ADR 0039): fed by CustomerRegistered and
    // ProductCreated, each row keeping the EVENTS sequence of the event that wrote it. Numbered apart from the carts and
    // orders migrations (0xx) so the two slices never pick the same id.
    id: 'order/100_catalog_read_model',
    sql: `
      CREATE TABLE known_customers (
        customer_id uuid PRIMARY KEY,
        event_sequence bigint NOT NULL
      );
      CREATE TABLE product_prices (
        product_id uuid PRIMARY KEY,
        price_cents bigint NOT NULL CHECK (price_cents >= 0),
        event_sequence bigint NOT NULL
      );
    `,
  },
  {
    // Order's read model of its parcel (services/order/src/fulfilment), fed by shipping's events, each row keeping the
    // EVENTS sequence of the event that wrote it. Numbered apart (2xx) from the other slices.
    id: 'order/200_fulfilment',
    sql: `
      CREATE TABLE fulfilments (
        order_id uuid PRIMARY KEY,
        shipment_id uuid NOT NULL,
        fulfilment text NOT NULL,
        resumes text NOT NULL,
        event_sequence bigint NOT NULL
      );
    `,
  },
];
