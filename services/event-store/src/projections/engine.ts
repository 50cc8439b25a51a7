import type { Db, Logger, Tx } from '@jetsaga/platform';
import { ConflictError, NotFoundError } from '@jetsaga/platform';
import { asCurrent, EVENT_COLUMNS, type EventRow, fromRow } from '../events/stored.js';
import type { ProjectionDefinition } from './definitions.js';
import { type Delta, merge, type Value } from './ops.js';

export type ProjectionState = 'BUILDING' | 'LIVE' | 'RETIRED';

export type ProjectionStatus = {
  name: string;
  version: number;
  state: ProjectionState;
  position: number;
  lag: number;
  startedAt: string;
  liveAt: string | null;
};

/** Physical table of a projection version: built beside the live one during a rebuild. */
export function tableName(definition: ProjectionDefinition, table: string, version: number): string {
  return `p_${definition.name.replace(/-/g, '_')}_${table}_v${version}`;
}

const BATCH = 2000;

async function createTables(tx: Tx | Db, definition: ProjectionDefinition, version: number): Promise<void> {
  for (const [table, spec] of Object.entries(definition.tables)) {
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${tableName(definition, table, version)} (${spec.columns}, PRIMARY KEY (${spec.key.join(', ')}))`,
    );
  }
}

async function dropTables(db: Db | Tx, definition: ProjectionDefinition, version: number): Promise<void> {
  for (const table of Object.keys(definition.tables)) await db.query(`DROP TABLE IF EXISTS ${tableName(definition, table, version)}`);
}

/** Writes merged deltas: one multi-row upsert per table and column set. */
async function writeDeltas(tx: Tx, definition: ProjectionDefinition, version: number, deltas: readonly Delta[]): Promise<void> {
  const groups = new Map<string, Delta[]>();
  for (const delta of deltas) {
    const signature = `${delta.table}|${Object.keys(delta.key).join(',')}|${Object.keys(delta.set).sort().join(',')}|${Object.keys(delta.add).sort().join(',')}`;
    groups.set(signature, [...(groups.get(signature) ?? []), delta]);
  }
  for (const group of groups.values()) {
    const sample = group[0] as Delta;
    const spec = definition.tables[sample.table];
    if (!spec) throw new Error(`projection ${definition.name} has no table ${sample.table}`);
    const keyColumns = Object.keys(sample.key);
    const setColumns = Object.keys(sample.set).sort();
    const addColumns = Object.keys(sample.add).sort();
    const columns = [...keyColumns, ...setColumns, ...addColumns];
    const table = tableName(definition, sample.table, version);
    const updates = [
      ...setColumns.map((column) => `${column} = EXCLUDED.${column}`),
      ...addColumns.map((column) => `${column} = ${table}.${column} + EXCLUDED.${column}`),
    ];
    const perStatement = Math.max(1, Math.floor(30_000 / columns.length));
    for (let start = 0; start < group.length; start += perStatement) {
      const chunk = group.slice(start, start + perStatement);
      const values: Value[] = [];
      const tuples = chunk.map((delta) => {
        const row = [
          ...keyColumns.map((column) => delta.key[column] ?? null),
          ...setColumns.map((column) => delta.set[column] ?? null),
          ...addColumns.map((column) => delta.add[column] ?? 0),
        ];
        const placeholders = row.map((value) => {
          values.push(value);
          return `$${values.length}`;
        });
        return `(${placeholders.join(', ')})`;
      });
      await tx.query(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}
         ON CONFLICT (${spec.key.join(', ')}) ${updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`,
        values,
      );
    }
  }
}

/**
 * Runs projections over the mirror: each version reads mirrored events after its checkpoint, writes its rows and moves
 * its checkpoint in one transaction, so it resumes exactly after a crash and a rebuild from position 1 gives the same
 * rows. A rebuild builds a new version beside the live one and switches reads to it once it has caught up.
 */
export class ProjectionEngine {
  private readonly byName: Map<string, ProjectionDefinition>;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  /** Set by notify(); see run(). */
  private notified = false;

  constructor(private readonly options: { db: Db; log: Logger; definitions: readonly ProjectionDefinition[]; pollIntervalMs?: number }) {
    this.byName = new Map(options.definitions.map((definition) => [definition.name, definition]));
  }

  async start(): Promise<void> {
    for (const definition of this.options.definitions) {
      const { rows } = await this.options.db.query('SELECT 1 FROM projections WHERE name = $1', [definition.name]);
      if (rows.length === 0) {
        await createTables(this.options.db, definition, 1);
        await this.options.db.query(
          "INSERT INTO projections (name, version, state, live_at) VALUES ($1, 1, 'LIVE', now()) ON CONFLICT DO NOTHING",
          [definition.name],
        );
      }
    }
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** The mirror moved: there is work. */
  notify(): void {
    this.notified = true;
    this.wake?.();
  }

  definition(name: string): ProjectionDefinition {
    const definition = this.byName.get(name);
    if (!definition) throw new NotFoundError(`no projection ${name}`);
    return definition;
  }

  /** The table that answers reads now. */
  async liveTable(name: string, table: string): Promise<string> {
    const definition = this.definition(name);
    const { rows } = await this.options.db.query<{ version: number }>(
      "SELECT version FROM projections WHERE name = $1 AND state = 'LIVE'",
      [name],
    );
    return tableName(definition, table, rows[0]?.version ?? 1);
  }

  async status(): Promise<ProjectionStatus[]> {
    const { rows } = await this.options.db.query<{
      name: string;
      version: number;
      state: ProjectionState;
      position: number;
      started_at: Date;
      live_at: Date | null;
      mirror: number;
    }>(
      `SELECT p.name, p.version, p.state, p.position, p.started_at, p.live_at, m.position AS mirror
       FROM projections p CROSS JOIN mirror_checkpoint m WHERE p.state <> 'RETIRED' ORDER BY p.name, p.version`,
    );
    return rows.map((row) => ({
      name: row.name,
      version: row.version,
      state: row.state,
      position: row.position,
      lag: Math.max(0, row.mirror - row.position),
      startedAt: row.started_at.toISOString(),
      liveAt: row.live_at?.toISOString() ?? null,
    }));
  }

  /** Starts a blue-green rebuild: a new version built from position 1 beside the live one. */
  async rebuild(name: string, requestedVersion?: number): Promise<ProjectionStatus> {
    const definition = this.definition(name);
    const { db } = this.options;
    const { rows } = await db.query<{ version: number; building: boolean }>(
      "SELECT coalesce(max(version), 0) AS version, bool_or(state = 'BUILDING') AS building FROM projections WHERE name = $1",
      [name],
    );
    const current = rows[0]?.version ?? 0;
    if (rows[0]?.building) throw new ConflictError(`projection ${name} is already being rebuilt`);
    const version = requestedVersion ?? current + 1;
    if (version <= current) throw new ConflictError(`projection ${name} is already at version ${current}; a rebuild needs a newer one`);
    // Retired versions are dropped only now, long after reads moved off them.
    const { rows: retired } = await db.query<{ version: number }>(
      "DELETE FROM projections WHERE name = $1 AND state = 'RETIRED' RETURNING version",
      [name],
    );
    for (const old of retired) await dropTables(db, definition, old.version);
    await dropTables(db, definition, version);
    await createTables(db, definition, version);
    try {
      await db.query("INSERT INTO projections (name, version, state) VALUES ($1, $2, 'BUILDING')", [name, version]);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new ConflictError(`projection ${name} is already being rebuilt`);
      throw error;
    }
    this.notify();
    const status = (await this.status()).find((entry) => entry.name === name && entry.version === version);
    if (!status) throw new Error('unreachable: the new version was just registered');
    return status;
  }

  /** md5 over every row in key order: equal checksums mean identical read models. */
  async checksum(name: string, version?: number): Promise<{ name: string; version: number; rows: number; checksum: string }> {
    const definition = this.definition(name);
    const { rows: found } = await this.options.db.query<{ version: number }>(
      version === undefined
        ? "SELECT version FROM projections WHERE name = $1 AND state = 'LIVE'"
        : "SELECT version FROM projections WHERE name = $1 AND version = $2 AND state <> 'RETIRED'",
      version === undefined ? [name] : [name, version],
    );
    const chosen = found[0]?.version;
    if (chosen === undefined) throw new NotFoundError(`projection ${name} has no version ${version ?? 'live'}`);
    const parts: string[] = [];
    let count = 0;
    for (const [table, spec] of Object.entries(definition.tables)) {
      const physical = tableName(definition, table, chosen);
      const { rows } = await this.options.db.query<{ n: number; digest: string }>(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY ${spec.key.join(', ')}), '')) AS digest FROM ${physical} t`,
      );
      count += rows[0]?.n ?? 0;
      parts.push(`${table}:${rows[0]?.digest}`);
    }
    return { name, version: chosen, rows: count, checksum: parts.join(';') };
  }

  /**
   * Rounds over the live and building versions. A round runs again at once only when there may be more to do: a step
   * read a full batch, a building version moved (its switch comes next), or the mirror moved during the round. Another
   * round that would find every version caught up was, per mirror batch, a third of the event store's statements
   * (docs/performance.md); and a notification that came during a round that made no progress waited for the poll.
   */
  private async run(): Promise<void> {
    while (this.running) {
      this.notified = false;
      let again = false;
      try {
        const { rows } = await this.options.db.query<{ name: string; version: number }>(
          "SELECT name, version FROM projections WHERE state IN ('LIVE', 'BUILDING') ORDER BY state DESC, name",
        );
        for (const row of rows) {
          const definition = this.byName.get(row.name);
          if (definition && (await this.step(definition, row.version))) again = true;
        }
      } catch (error) {
        this.options.log.warn({ err: error }, 'projection step failed; retrying');
      }
      if (again || this.notified) continue;
      await this.idle();
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.pollIntervalMs ?? 1000);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * One batch for one projection version; true when it may have more to do at once (a full batch, or a building
   * version that moved and may now switch). A caught-up BUILDING version goes live.
   */
  private async step(definition: ProjectionDefinition, version: number): Promise<boolean> {
    const { db } = this.options;
    const client = await db.connect();
    let again = false;
    try {
      await client.query('BEGIN');
      const { rows: locked } = await client.query<{ state: ProjectionState; position: number; mirror: number }>(
        `SELECT p.state, p.position, m.position AS mirror FROM projections p CROSS JOIN mirror_checkpoint m
         WHERE p.name = $1 AND p.version = $2 FOR UPDATE OF p SKIP LOCKED`,
        [definition.name, version],
      );
      const current = locked[0];
      if (!current || current.state === 'RETIRED') {
        await client.query('ROLLBACK');
        return false;
      }
      if (current.position < current.mirror) {
        const { rows } = await client.query<EventRow & { valid: boolean }>(
          `SELECT ${EVENT_COLUMNS}, valid FROM events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT ${BATCH}`,
          [current.position, current.mirror],
        );
        const ops = rows.flatMap((row) => {
          if (!row.valid) return [];
          const event = asCurrent(fromRow(row));
          return event ? definition.project(event) : [];
        });
        await writeDeltas(client, definition, version, merge(ops));
        const last = rows[rows.length - 1]?.position ?? current.mirror;
        await client.query('UPDATE projections SET position = $3 WHERE name = $1 AND version = $2', [definition.name, version, last]);
        again = rows.length === BATCH || current.state === 'BUILDING';
      } else if (current.state === 'BUILDING') {
        // Caught up: switch reads to the new version in the same transaction that retires the old one.
        const { rows: live } = await client.query<{ version: number }>(
          "UPDATE projections SET state = 'RETIRED' WHERE name = $1 AND state = 'LIVE' RETURNING version",
          [definition.name],
        );
        await client.query("UPDATE projections SET state = 'LIVE', live_at = now() WHERE name = $1 AND version = $2", [
          definition.name,
          version,
        ]);
        this.options.log.info({ projection: definition.name, version, retired: live[0]?.version }, 'projection rebuilt and switched');
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    return again;
  }
}
