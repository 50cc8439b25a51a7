import pg from 'pg';

export type Db = pg.Pool;
export type Tx = pg.PoolClient;

const SCHEMA = /^[a-z_][a-z0-9_]*$/;

/** int8 columns (money, stream sequences) come back as numbers; every value used here is below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export type PoolOptions = { max?: number; applicationName?: string };

/** A pool whose connections see only the service's own schema (one schema per bounded context, no shared tables). */
export function createPool(url: string, schema: string, options: PoolOptions = {}): Db {
  if (!SCHEMA.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const pool = new pg.Pool({
    connectionString: url,
    options: `-c search_path=${schema}`,
    max: options.max ?? 10,
    application_name: options.applicationName ?? schema,
    types,
  });
  // An idle client losing its connection (Postgres restarted) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

const RETRYABLE = new Set(['40001', '40P01']);

/** SQLSTATEs of a server going away or refusing connections for now: shutting down, starting, recovering, full. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** Socket errors of a server that cannot be reached (not listening, restarting, its address not resolvable yet). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);
/** node-postgres's own words for a connection lost or never made (its errors carry no code). */
const LOST_CONNECTION = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * Pure: whether `error` says the database is unavailable for now (restarting, unreachable, out of connections)
 * rather than that the statement was wrong. Looks through `cause` chains and the errors of an AggregateError (a
 * connect attempt to each address of a name). Connection exceptions (SQLSTATE class 08) count too.
 */
export function databaseUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_STATES.has(code) || UNREACHABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)))
    return true;
  if (LOST_CONNECTION.test(error.message)) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => databaseUnavailable(inner, depth + 1))) return true;
  return databaseUnavailable(error.cause, depth + 1);
}

/** Work a transaction asked to run once it committed (publishing its outbox rows), by transaction. */
const commitHooks = new WeakMap<Tx, Array<(db: Db) => void>>();

/** The pool each open transaction of withTransaction came from (what enqueue seals personal data with). */
const transactionPools = new WeakMap<Tx, Db>();

/** The pool of a transaction of withTransaction (undefined for any other client). */
export function poolOf(tx: Tx): Db | undefined {
  return transactionPools.get(tx);
}

/**
 * Runs `hook` (with the pool) right after the transaction of `tx` commits (never when it rolls back). Returns false when `tx` is not
 * a transaction of withTransaction: the caller then leaves the work to whatever sweeps up after it.
 */
export function afterCommit(tx: Tx, hook: (db: Db) => void): boolean {
  const hooks = commitHooks.get(tx);
  if (!hooks) return false;
  hooks.push(hook);
  return true;
}

/**
 * Runs fn in one transaction. Serialization failures and deadlocks are retried a few times:
 * they are the database asking for exactly that.
 */
export async function withTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const tx = await db.connect();
    const hooks: Array<(db: Db) => void> = [];
    let result: T;
    try {
      await tx.query('BEGIN');
      commitHooks.set(tx, hooks);
      transactionPools.set(tx, db);
      result = await fn(tx);
      await tx.query('COMMIT');
    } catch (error) {
      await tx.query('ROLLBACK').catch(() => undefined);
      const code = (error as { code?: string }).code;
      if (attempt < attempts && code && RETRYABLE.has(code)) continue;
      throw error;
    } finally {
      commitHooks.delete(tx);
      transactionPools.delete(tx);
      tx.release();
    }
    // Committed: what the transaction asked for afterwards runs now, in commit order.
    for (const hook of hooks) hook(db);
    return result;
  }
}

export type Migration = { id: string; sql: string };

/**
 * Applies versioned migrations once each, in order, under an advisory lock so that replicas starting together
 * do not race. Migration ids are recorded in `<schema>.schema_migrations`.
 */
export async function migrate(db: Db, schema: string, migrations: readonly Migration[]): Promise<string[]> {
  if (!SCHEMA.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const client = await db.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`jetsaga:migrate:${schema}`]);
    // Per-service roles (packages/devstack/src/database-roles.ts): the schema exists already and belongs to this role,
    // or, for the shared keyring, to a role this one may only SET ROLE to; the migrations then run as that owner.
    // Nothing is created where it exists (CREATE ... IF NOT EXISTS checks the privilege to create first).
    const { rows: found } = await client.query<{ owner: string; member: boolean; log: boolean }>(
      `SELECT n.nspowner::regrole::text AS owner, n.nspowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) AND pg_has_role(n.nspowner, 'MEMBER') AS member,
              EXISTS (SELECT FROM pg_tables WHERE schemaname = n.nspname AND tablename = 'schema_migrations') AS log
         FROM pg_namespace n WHERE n.nspname = $1`,
      [schema],
    );
    const asOwner = found[0]?.member ? `SET LOCAL ROLE ${found[0].owner}` : undefined;
    if (!found[0]) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    if (!found[0]?.log) {
      await client.query('BEGIN');
      try {
        if (asOwner) await client.query(asOwner);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM ${schema}.schema_migrations`);
    const done = new Set(rows.map((row) => row.id));
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      await client.query('BEGIN');
      try {
        if (asOwner) await client.query(asOwner);
        await client.query(`SET LOCAL search_path = ${schema}`);
        await client.query(migration.sql);
        await client.query(`INSERT INTO ${schema}.schema_migrations (id) VALUES ($1)`, [migration.id]);
        await client.query('COMMIT');
        applied.push(migration.id);
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${schema}/${migration.id} failed`, { cause: error });
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`jetsaga:migrate:${schema}`]).catch(() => undefined);
    client.release();
  }
  return applied;
}
