import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    id: 'payment/001_customers_payments',
    sql: `
      CREATE TABLE customers (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL,
        balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE payments (
        order_id uuid PRIMARY KEY,
        customer_id uuid,
        amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
        status text NOT NULL CHECK (status IN ('ACCEPTED', 'REFUSED', 'REFUNDED', 'VOIDED')),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    // The customer's postal address (optional), where their parcels go unless a checkout names another. Numbered apart
    // (1xx: the customers slice) so other slices' next migrations never pick the same id.
    id: 'payment/100_customer_address',
    sql: `ALTER TABLE customers ADD COLUMN address jsonb;`,
  },
];
