import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    id: 'inventory/001_products_reservations',
    sql: `
      CREATE TABLE products (
        id uuid PRIMARY KEY,
        sku text NOT NULL UNIQUE,
        name text NOT NULL,
        price_cents bigint NOT NULL CHECK (price_cents >= 0),
        available integer NOT NULL CHECK (available >= 0),
        reserved integer NOT NULL CHECK (reserved >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE reservations (
        order_id uuid PRIMARY KEY,
        status text NOT NULL CHECK (status IN ('RESERVED', 'REJECTED', 'RELEASED', 'COMMITTED', 'VOIDED')),
        lines jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    id: 'inventory/002_restocked',
    sql: `
      ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
      ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
        CHECK (status IN ('RESERVED', 'REJECTED', 'RELEASED', 'COMMITTED', 'RESTOCKED', 'VOIDED'));
    `,
  },
  {
    // The stock of replacement parcels (services/inventory/src/reshipments), one row per incident resolved RESHIP.
    // Numbered apart (1xx) from the reservations' migrations.
    id: 'inventory/100_reshipments',
    sql: `
      CREATE TABLE reshipments (
        incident_id uuid PRIMARY KEY,
        shipment_id uuid NOT NULL,
        order_id uuid NOT NULL,
        status text NOT NULL CHECK (status IN ('RESERVED', 'UNAVAILABLE')),
        lines jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];
