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
  {
    // Refund requests (support's RefundRequested, issue 14) give back part of a payment: how much so far, and which
    // requests were answered, so a payment never gives back more than it took and answers each request once.
    id: 'payment/002_partial_refunds',
    sql: `
      ALTER TABLE payments
        ADD COLUMN refunded_cents bigint NOT NULL DEFAULT 0,
        ADD COLUMN refund_ids uuid[] NOT NULL DEFAULT '{}',
        ADD CONSTRAINT payments_refunds_within_payment CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents);
    `,
  },
  {
    // Erasure (ADR 0052): the name, email and address of an erased customer are overwritten; the row, its balance and
    // the time of the erasure stay (payments and refunds still need the balance).
    id: 'payment/101_customer_erasure',
    sql: `ALTER TABLE customers ADD COLUMN erased_at timestamptz;`,
  },
];
