import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    // A parcel's state is one JSON document (its incidents inside); the columns beside it are what lists filter on.
    // The timeline keeps every event that changed a parcel, in event id (time) order.
    id: 'shipping/001_shipments',
    sql: `
      CREATE TABLE shipments (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL,
        customer_id uuid NOT NULL,
        status text NOT NULL CHECK (status IN ('CREATED', 'DISPATCHED', 'DELIVERED', 'INCIDENT', 'REPLACED', 'REFUNDED', 'CANCELLED')),
        replaces_shipment_id uuid,
        state jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX shipments_order ON shipments (order_id, id);
      CREATE INDEX shipments_customer ON shipments (customer_id, id);
      CREATE INDEX shipments_status ON shipments (status, id);
      CREATE TABLE shipment_timeline (
        event_id uuid PRIMARY KEY,
        shipment_id uuid NOT NULL,
        type text NOT NULL,
        occurred_at timestamptz NOT NULL,
        actor text NOT NULL,
        data jsonb NOT NULL
      );
      CREATE INDEX shipment_timeline_shipment ON shipment_timeline (shipment_id, event_id);
    `,
  },
  {
    // The tombstones of sales cancelled before their confirmation was handled here (shipment.ts, VOIDED): the
    // parcel ids that must never open. Kept apart so that lists, reports and views only ever show real parcels.
    id: 'shipping/002_voided_shipments',
    sql: `CREATE TABLE voided_shipments (id uuid PRIMARY KEY, voided_at timestamptz NOT NULL DEFAULT now());`,
  },
  {
    // Shipping's read model of where parcels go (services/shipping/src/destinations): only the addresses that events
    // carried, from CustomerRegistered and OrderPlaced. Numbered apart (1xx) from the parcels' migrations.
    id: 'shipping/100_destinations',
    sql: `
      CREATE TABLE customer_addresses (customer_id uuid PRIMARY KEY, address jsonb NOT NULL);
      CREATE TABLE order_addresses (order_id uuid PRIMARY KEY, address jsonb NOT NULL);
    `,
  },
  {
    // Erasure (ADR 0052): a checkout's address is found by its customer, even for an order that never got a parcel.
    id: 'shipping/101_order_address_customer',
    sql: `ALTER TABLE order_addresses ADD COLUMN customer_id uuid;
          CREATE INDEX order_addresses_customer ON order_addresses (customer_id);`,
  },
];
