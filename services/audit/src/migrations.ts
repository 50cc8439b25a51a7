import type { Migration } from '@jetsaga/platform';

export const migrations: Migration[] = [
  {
    // The trail: one row per event, in one total order (position, from 1 without gaps), each row chained to the one
    // before by its hash (services/audit/src/chain). The envelope is the event as published; the columns beside it
    // are what the routes filter on, and they are chained too. `search` is the full-text index over the event type
    // and the data's strings and numbers.
    id: 'audit/001_entries',
    sql: `
      CREATE TABLE entries (
        position bigint PRIMARY KEY CHECK (position > 0),
        event_id uuid NOT NULL UNIQUE,
        stream_sequence bigint NOT NULL,
        subject text NOT NULL,
        type text NOT NULL,
        aggregate_type text NOT NULL,
        aggregate_id text NOT NULL,
        correlation_id text NOT NULL,
        actor text NOT NULL,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        tags text[] NOT NULL,
        envelope jsonb NOT NULL,
        hash bytea NOT NULL CHECK (length(hash) = 32),
        search tsvector GENERATED ALWAYS AS (
          to_tsvector('simple', type) || jsonb_to_tsvector('simple', envelope -> 'data', '["string", "numeric"]')
        ) STORED
      );
      CREATE INDEX entries_aggregate ON entries (aggregate_type, aggregate_id, position);
      CREATE INDEX entries_correlation ON entries (correlation_id, position);
      CREATE INDEX entries_type ON entries (type, position);
      CREATE INDEX entries_actor ON entries (actor, position);
      CREATE INDEX entries_occurred ON entries (occurred_at, position);
      CREATE INDEX entries_tags ON entries USING gin (tags);
      CREATE INDEX entries_search ON entries USING gin (search);

      -- Signed chain heads: every AUDIT_CHECKPOINT_EVERY entries and on an admin's request.
      CREATE TABLE checkpoints (
        position bigint PRIMARY KEY,
        hash bytea NOT NULL,
        signed_at timestamptz NOT NULL,
        key_id text NOT NULL,
        signature bytea NOT NULL
      );

      -- Append-only in normal operation: no role of the service can change or remove a row (a superuser can switch
      -- triggers off, and that is what the verify route is there to catch).
      CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
      END
      $$;
      CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries FOR EACH ROW EXECUTE FUNCTION refuse_change();
      CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
      CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints FOR EACH ROW EXECUTE FUNCTION refuse_change();
      CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
      REVOKE UPDATE, DELETE, TRUNCATE ON entries, checkpoints FROM PUBLIC;
    `,
  },
];
