import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * Each service with a database and the schema it owns (its ServiceDefinition's `schema`). The gateway and the
 * operator have none.
 */
export const DATABASE_SERVICES = {
  order: 'orders',
  inventory: 'inventory',
  payment: 'payment',
  sales: 'sales',
  support: 'support',
  'event-store': 'eventstore',
  shipping: 'shipping',
  notification: 'notification',
  audit: 'audit',
} as const;
export type DatabaseService = keyof typeof DATABASE_SERVICES;

/** The schema of customers' data keys (ADR 0052), which every service seals with and opens by. */
export const KEYRING_SCHEMA = 'keyring';
/** Owns the keyring schema (no login): services run the keyring's migrations as it (`SET ROLE`), nothing else. */
export const KEYRING_OWNER_ROLE = 'jetsaga_keyring';
/** What every service may do in the keyring: read, add and erase keys (SELECT, INSERT, UPDATE); never DELETE or DDL. */
export const KEYRING_USER_ROLE = 'jetsaga_keyring_user';
/** postgres_exporter's login: pg_monitor, and no table of any service. */
export const MONITORING_ROLE = 'jetsaga_monitoring';

/** A service's login role: `jetsaga_<service>` (`jetsaga_event_store`). */
export function databaseRole(service: DatabaseService): string {
  return `jetsaga_${service.replace(/-/g, '_')}`;
}

/** The psql variable that carries a role's password in the role script: `password_<service>`, `password_monitoring`. */
export function rolePasswordVariable(who: DatabaseService | 'monitoring'): string {
  return `password_${who.replace(/-/g, '_')}`;
}

const LOGIN = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT';

/** Hands the objects in `schema` that another role made (a shared user, before these roles) to its owner. */
function reassign(schema: string, role: string): string {
  return `DO $$
DECLARE o record;
BEGIN
  FOR o IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = '${schema}' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner <> '${role}'::regrole
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
  LOOP EXECUTE format('ALTER TABLE %s OWNER TO ${role}', o.name); END LOOP;
  FOR o IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = '${schema}' AND p.proowner <> '${role}'::regrole
  LOOP EXECUTE format('ALTER ROUTINE %s OWNER TO ${role}', o.name); END LOOP;
  FOR o IN SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = '${schema}' AND t.typtype IN ('e', 'd') AND t.typowner <> '${role}'::regrole
  LOOP EXECUTE format('ALTER TYPE %s OWNER TO ${role}', o.name); END LOOP;
END $$;`;
}

/**
 * The roles script: idempotent SQL, run as a superuser in the services' database (the chart's Postgres runs it at
 * start and every 30 s after; devstack before the services start; a DBA may run it with
 * `psql -v ON_ERROR_STOP=1 -v password_order=... -f roles.sql`). One login role per service owning its schema and
 * nothing else, the keyring shared through grants, a monitoring role, and nothing for PUBLIC. Passwords are psql
 * variables (`:'password_order'`), so the script itself holds no secret.
 */
export function databaseRolesSql(): string {
  const services = Object.keys(DATABASE_SERVICES) as DatabaseService[];
  const roles = [KEYRING_OWNER_ROLE, KEYRING_USER_ROLE, MONITORING_ROLE, ...services.map(databaseRole)];
  const lines = [
    '-- jetsaga database roles: written by packages/devstack/src/database-roles.ts (databaseRolesSql); do not edit.',
    'SET client_min_messages = warning;',
    `DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY[${roles.map((role) => `'${role}'`).join(', ')}] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN EXECUTE format('CREATE ROLE %I NOLOGIN', r); END IF;
  END LOOP;
END $$;`,
    '-- Nothing for PUBLIC: a role reaches only what it owns or is granted.',
    `DO $$ BEGIN EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()); END $$;`,
    'REVOKE ALL ON SCHEMA public FROM PUBLIC;',
    '-- The keyring: owned by a role nobody logs in as; each service reads, adds and erases keys through grants.',
    `CREATE SCHEMA IF NOT EXISTS ${KEYRING_SCHEMA} AUTHORIZATION ${KEYRING_OWNER_ROLE};`,
    `ALTER SCHEMA ${KEYRING_SCHEMA} OWNER TO ${KEYRING_OWNER_ROLE};`,
    `REVOKE ALL ON SCHEMA ${KEYRING_SCHEMA} FROM PUBLIC;`,
    reassign(KEYRING_SCHEMA, KEYRING_OWNER_ROLE),
    `GRANT USAGE ON SCHEMA ${KEYRING_SCHEMA} TO ${KEYRING_USER_ROLE};`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${KEYRING_OWNER_ROLE} IN SCHEMA ${KEYRING_SCHEMA} GRANT SELECT, INSERT, UPDATE ON TABLES TO ${KEYRING_USER_ROLE};`,
    `GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${KEYRING_SCHEMA} TO ${KEYRING_USER_ROLE};`,
  ];
  for (const service of services) {
    const role = databaseRole(service);
    const schema = DATABASE_SERVICES[service];
    lines.push(
      `-- ${service}: owns ${schema}, uses the keyring.`,
      `ALTER ROLE ${role} WITH ${LOGIN} PASSWORD :'${rolePasswordVariable(service)}';`,
      `DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${role}', current_database()); END $$;`,
      `GRANT ${KEYRING_USER_ROLE} TO ${role};`,
      // Not inherited: the keyring's owner is only who the migrations of the keyring run as (platform's migrate()).
      `GRANT ${KEYRING_OWNER_ROLE} TO ${role} WITH INHERIT FALSE, SET TRUE;`,
      `CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${role};`,
      `ALTER SCHEMA ${schema} OWNER TO ${role};`,
      `REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC;`,
      reassign(schema, role),
    );
  }
  lines.push(
    '-- postgres_exporter: the statistics views, no table of any service.',
    `ALTER ROLE ${MONITORING_ROLE} WITH ${LOGIN} PASSWORD :'${rolePasswordVariable('monitoring')}';`,
    `DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${MONITORING_ROLE}', current_database()); END $$;`,
    `GRANT pg_monitor TO ${MONITORING_ROLE};`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * What the chart needs to know of the roles (charts/jetsaga/files/generated/postgres/roles.json): each service's role,
 * schema and password variable, and the monitoring role's.
 */
export function databaseRolesManifest(): {
  services: { service: string; role: string; schema: string; variable: string }[];
  monitoring: { role: string; variable: string };
} {
  const services = Object.keys(DATABASE_SERVICES) as DatabaseService[];
  return {
    services: services.map((service) => ({
      service,
      role: databaseRole(service),
      schema: DATABASE_SERVICES[service],
      variable: rolePasswordVariable(service),
    })),
    monitoring: { role: MONITORING_ROLE, variable: rolePasswordVariable('monitoring') },
  };
}

/** The script with its psql variables (`:'name'`) replaced by SQL string literals, for a client that is not psql. */
export function withVariables(sql: string, values: Record<string, string>): string {
  return sql.replace(/:'([a-z_]+)'/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the roles script needs the variable ${name}`);
    return `'${value.replace(/'/g, "''")}'`;
  });
}

/** Every password variable of the script, with the value `passwordOf` gives each role. */
export function rolePasswords(passwordOf: (who: DatabaseService | 'monitoring') => string): Record<string, string> {
  const who = [...(Object.keys(DATABASE_SERVICES) as DatabaseService[]), 'monitoring' as const];
  return Object.fromEntries(who.map((name) => [rolePasswordVariable(name), passwordOf(name)]));
}

/**
 * Passwords for devstack's roles, derived from the superuser's URL: the same for every database of one Postgres
 * (roles are the server's, not a database's), new with each test run's Postgres.
 */
export function derivedRolePassword(adminUrl: string, who: string): string {
  const server = new URL(adminUrl);
  server.pathname = '';
  server.search = '';
  return createHash('sha256').update(`${server.toString()}\0${who}`).digest('base64url').slice(0, 32);
}

/** Runs the roles script as the superuser of `adminUrl`, in its database. */
export async function applyDatabaseRoles(adminUrl: string, passwords: Record<string, string>): Promise<void> {
  const sql = withVariables(databaseRolesSql(), passwords);
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
      return;
    } catch (error) {
      // Roles are the server's: two databases set up at once may update the same role row (`tuple concurrently updated`).
      if (attempt >= 5 || (error as { code?: string }).code !== 'XX000') throw error;
    } finally {
      await client.end();
    }
  }
}

/** The URL of `adminUrl`'s database as another user. */
export function urlAs(adminUrl: string, user: string, password: string): string {
  const url = new URL(adminUrl);
  url.username = user;
  url.password = password;
  return url.toString();
}

/**
 * What `npm start` and the tests give each service: its own role (made now, in the database of `adminUrl`) and
 * URL. A URL whose user is no superuser (an external database of yours) is given to every service as it is.
 */
export async function serviceDatabaseUrls(adminUrl: string): Promise<Record<DatabaseService, string> | undefined> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const superuser = await client
    .query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')
    .then(({ rows }) => rows[0]?.rolsuper === true)
    .finally(() => client.end());
  if (!superuser) return undefined;
  const password = (who: string) => derivedRolePassword(adminUrl, who);
  await applyDatabaseRoles(adminUrl, rolePasswords(password));
  const services = Object.keys(DATABASE_SERVICES) as DatabaseService[];
  return Object.fromEntries(services.map((service) => [service, urlAs(adminUrl, databaseRole(service), password(service))])) as Record<
    DatabaseService,
    string
  >;
}
