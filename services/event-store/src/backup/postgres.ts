import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { createPool, type Db, migrate } from '@jetsaga/platform';
import type pg from 'pg';
import { migrationsOf } from './schemas.js';

/** Schemas of the server itself, never backed up. */
const SYSTEM_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND n.nspname NOT LIKE 'pg\\_%'`;
/** Rows per INSERT of a restore (one json_populate_recordset each). */
const BATCH = 500;

/**
 * A table's columns and primary key as the backup found them: what a restore creates a table from when the release's
 * migrations do not (the event store's projection tables, made at run time by its projection engine).
 */
export type TableShape = {
  columns: Array<{ name: string; type: string; notNull: boolean; default: string | null }>;
  primaryKey: string | null;
};

export type TableInfo = { table: string; rows: number; shape: TableShape };

async function shapeOf(client: pg.PoolClient, table: string): Promise<TableShape> {
  const { rows: columns } = await client.query<{ name: string; type: string; notNull: boolean; default: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
            pg_get_expr(d.adbin, d.adrelid) AS default
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`,
    [table],
  );
  const { rows: keys } = await client.query<{ definition: string }>(
    `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`,
    [table],
  );
  return { columns, primaryKey: keys[0]?.definition ?? null };
}

/** CREATE TABLE for a table of the backup that the release's migrations do not make. */
function createStatement(table: string, shape: TableShape): string {
  const columns = shape.columns.map(
    (column) =>
      `${pgIdent(column.name)} ${column.type}${column.notNull ? ' NOT NULL' : ''}${column.default !== null ? ` DEFAULT ${column.default}` : ''}`,
  );
  return `CREATE TABLE ${table} (${[...columns, ...(shape.primaryKey ? [shape.primaryKey] : [])].join(', ')})`;
}

function pgIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export type PostgresBackup = {
  /** Per schema, the migration ids applied when the backup was taken: a restore needs a release with the same. */
  migrations: Record<string, string[]>;
  tables: TableInfo[];
  /** Every sequence's value (identity and serial columns), set again after the rows are in. */
  sequences: Array<{ sequence: string; value: string | null }>;
  rows: number;
  bytes: number;
};

type Line = { t: string; r: Record<string, unknown> };

async function userTables(client: pg.PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${SYSTEM_SCHEMAS} ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

/**
 * A logical backup of the release's database: every row of every table of its schemas, read in one REPEATABLE READ
 * READ ONLY transaction (one snapshot, as pg_dump takes), as JSON lines (row_to_json: each value in its text form, so
 * bytea, jsonb, numeric and timestamps come back exactly), gzip. The tables' definitions are not in it: they are the
 * release's migrations, which a restore applies first (ADR 0061 says why this and not pg_dump).
 */
export async function backupPostgres(url: string, file: string): Promise<PostgresBackup> {
  const db = createPool(url, 'public', { max: 1, applicationName: 'backup' });
  const client = await db.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const tables = await userTables(client);
    const migrations: Record<string, string[]> = {};
    for (const table of tables.filter((name) => name.endsWith('.schema_migrations'))) {
      const schema = table.slice(0, -'.schema_migrations'.length);
      migrations[schema] = (await client.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((row) => row.id);
    }
    const sequences = (
      await client.query<{ sequence: string; value: string | null }>(
        `SELECT format('%I.%I', schemaname, sequencename) AS sequence, last_value::text AS value FROM pg_sequences s
          JOIN pg_namespace n ON n.nspname = s.schemaname WHERE ${SYSTEM_SCHEMAS} ORDER BY 1`,
      )
    ).rows;
    const counts: TableInfo[] = [];
    let bytes = 0;
    async function* lines(): AsyncGenerator<string> {
      for (const table of tables) {
        let rows = 0;
        // A cursor per table: big tables are read in pages, not into memory.
        await client.query(`DECLARE backup_rows NO SCROLL CURSOR FOR SELECT row_to_json(t) AS r FROM ${table} t`);
        for (;;) {
          const page = await client.query<{ r: Record<string, unknown> }>('FETCH 1000 FROM backup_rows');
          for (const row of page.rows) {
            const line = `${JSON.stringify({ t: table, r: row.r } satisfies Line)}\n`;
            bytes += line.length;
            rows++;
            yield line;
          }
          if (page.rows.length < 1000) break;
        }
        await client.query('CLOSE backup_rows');
        counts.push({ table, rows, shape: await shapeOf(client, table) });
      }
    }
    await pipeline(Readable.from(lines()), createGzip(), createWriteStream(file, { flags: 'wx' }));
    await client.query('COMMIT');
    return { migrations, tables: counts, sequences, rows: counts.reduce((sum, table) => sum + table.rows, 0), bytes };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
    await db.end();
  }
}

/** Tables in an order where each comes after those its foreign keys point to. */
async function loadOrder(db: Db | pg.PoolClient, tables: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ child: string; parent: string }>(
    `SELECT format('%I.%I', cn.nspname, c.relname) AS child, format('%I.%I', pn.nspname, p.relname) AS parent
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
       JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
      WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`,
  );
  const parents = new Map<string, Set<string>>();
  for (const { child, parent } of rows) parents.set(child, (parents.get(child) ?? new Set()).add(parent));
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (table: string) => {
    if (ordered.includes(table) || visiting.has(table)) return;
    visiting.add(table);
    for (const parent of parents.get(table) ?? []) if (tables.includes(parent)) visit(parent);
    ordered.push(table);
  };
  for (const table of tables) visit(table);
  return ordered;
}

export type PostgresRestore = { rows: number; tables: number; ms: number };

/**
 * Restores a backup into a database whose tables hold no rows (a new database, or one whose schemas were dropped):
 * lays each schema of the backup with the release's migrations (refusing when their ids differ from the backup's:
 * restore with the release that took it), then loads every table's rows in foreign-key order and sets every sequence,
 * all in one transaction (all or nothing). The rows of each table are read from the file once per table.
 */
export async function restorePostgres(
  url: string,
  file: string,
  backup: Pick<PostgresBackup, 'migrations' | 'tables' | 'sequences'>,
  log?: (message: string) => void,
): Promise<PostgresRestore> {
  const started = Date.now();
  const db = createPool(url, 'public', { max: 2, applicationName: 'restore' });
  try {
    const tables = backup.tables.map((table) => table.table).filter((table) => !table.endsWith('.schema_migrations'));
    for (const table of tables) {
      const { rows } = await db.query<{ any: boolean | null }>(`SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE true END AS any`, [
        table,
      ]);
      if (rows[0]?.any === null) continue;
      const held = await db.query<{ any: boolean }>(`SELECT EXISTS (SELECT FROM ${table}) AS any`);
      if (held.rows[0]?.any) throw new Error(`${table} has rows: a restore goes into empty tables only; nothing restored`);
    }
    for (const [schema, ids] of Object.entries(backup.migrations)) {
      const migrations = await migrationsOf(schema);
      const release = migrations.map((migration) => migration.id).sort();
      if (JSON.stringify(release) !== JSON.stringify([...ids].sort()))
        throw new Error(
          `schema ${schema}: the backup was taken with migrations [${ids.join(', ')}], this release has [${release.join(', ')}]`,
        );
      await migrate(db, schema, migrations);
    }
    const client = await db.connect();
    let total = 0;
    try {
      await client.query('BEGIN');
      // Tables no migration makes (projection tables): created as the backup found them.
      for (const { table, shape } of backup.tables) {
        if (table.endsWith('.schema_migrations')) continue;
        const exists = (await client.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [table])).rows[0]?.oid;
        if (!exists) {
          await client.query(createStatement(table, shape));
          log?.(`${table}: created from the backup's columns`);
        }
      }
      const ordered = await loadOrder(client, tables);
      // What the migrations themselves wrote (seed rows) gives way to the backup's rows. Only tables that hold some:
      // append-only tables (audit's) refuse TRUNCATE by trigger.
      const seeded: string[] = [];
      for (const table of ordered)
        if ((await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT FROM ${table}) AS any`)).rows[0]?.any) seeded.push(table);
      if (seeded.length > 0) await client.query(`TRUNCATE ${seeded.join(', ')}`);
      for (const table of ordered) {
        // Columns the database computes itself (GENERATED ... STORED) are left out; identity columns take their value.
        const { rows: columns } = await client.query<{ name: string }>(
          `SELECT quote_ident(attname) AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
              AND attgenerated = '' ORDER BY attnum`,
          [table],
        );
        const list = columns.map((column) => column.name).join(', ');
        const insert = `INSERT INTO ${table} (${list}) OVERRIDING SYSTEM VALUE SELECT ${list} FROM json_populate_recordset(NULL::${table}, $1::json)`;
        let batch: unknown[] = [];
        let rows = 0;
        const flush = async () => {
          if (batch.length === 0) return;
          await client.query(insert, [JSON.stringify(batch)]);
          rows += batch.length;
          batch = [];
        };
        const input = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
        for await (const line of input) {
          if (!line.startsWith(`{"t":${JSON.stringify(table)},`)) continue;
          batch.push((JSON.parse(line) as Line).r);
          if (batch.length >= BATCH) await flush();
        }
        await flush();
        total += rows;
        log?.(`${table}: ${rows} rows`);
      }
      for (const { sequence, value } of backup.sequences) {
        if (value !== null) await client.query('SELECT setval($1::regclass, $2::bigint, true)', [sequence, value]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    return { rows: total, tables: tables.length, ms: Date.now() - started };
  } finally {
    await db.end();
  }
}
