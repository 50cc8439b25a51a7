import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    id: 'event-store/001_mirror',
    sql: `
      -- One row per message of the EVENTS stream, keyed by its stream sequence. The payload is kept byte for byte
      -- (hashing it proves the mirror equals the stream); the envelope's fields are copied out for queries.
      CREATE TABLE events (
        position bigint PRIMARY KEY,
        subject text NOT NULL,
        payload text NOT NULL,
        stored_at timestamptz NOT NULL,
        valid boolean NOT NULL,
        id uuid,
        type text,
        schema_version integer,
        aggregate_type text,
        aggregate_id text,
        occurred_at timestamptz,
        correlation_id uuid,
        causation_id text,
        actor text,
        data jsonb
      );
      CREATE INDEX events_id ON events (id);
      CREATE INDEX events_type ON events (type, position);
      CREATE INDEX events_aggregate ON events (aggregate_type, aggregate_id, position);
      CREATE INDEX events_correlation ON events (correlation_id, position);
      CREATE INDEX events_occurred_at ON events (occurred_at, position);
      CREATE TABLE mirror_checkpoint (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        position bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO mirror_checkpoint (position) VALUES (0);
    `,
  },
  {
    id: 'event-store/002_projections',
    sql: `
      -- Each projection has versions; exactly one is LIVE (answers reads), a newer one may be BUILDING beside it.
      CREATE TABLE projections (
        name text NOT NULL,
        version integer NOT NULL,
        state text NOT NULL CHECK (state IN ('BUILDING', 'LIVE', 'RETIRED')),
        position bigint NOT NULL DEFAULT 0,
        started_at timestamptz NOT NULL DEFAULT now(),
        live_at timestamptz,
        PRIMARY KEY (name, version)
      );
      CREATE UNIQUE INDEX projections_one_live ON projections (name) WHERE state = 'LIVE';
      CREATE UNIQUE INDEX projections_one_building ON projections (name) WHERE state = 'BUILDING';
    `,
  },
  {
    id: 'event-store/003_readable',
    sql: `
      -- True when the mirror read the payload as its type at its schema version (the type's schema checked once, as it
      -- was mirrored): a rebuild then only parses the JSON. NULL for rows mirrored before: they are checked as they are read.
      ALTER TABLE events ADD COLUMN readable boolean;
    `,
  },
];
