import {
  applyDatabaseRoles,
  createTestDatabase,
  DATABASE_SERVICES,
  databaseRole,
  derivedRolePassword,
  MONITORING_ROLE,
  rolePasswords,
  serviceDatabaseUrls,
  urlAs,
} from '@jetsaga/devstack';
import { createEvent, type DomainEvent, uuidv7 } from '@jetsaga/events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Db, migrate, withTransaction } from './db.js';
import { inboxMigration } from './inbox.js';
import { KEYRING_SCHEMA, Keyring, keyringMigrations } from './keyring.js';
import { enqueue, eventMessage, outboxMigration, outboxPublishAfterCommitMigration } from './outbox.js';
import { newKeyEncryptionKey, parseKeyEncryptionKey } from './sealing.js';

/**
 * Per-service database roles (packages/devstack/src/database-roles.ts, the script the chart's Postgres runs too) on a
 * real Postgres: each service migrates and writes its own schema and the keyring, and is refused everything of
 * another service's; the monitoring role sees statistics only; a database a shared user set up is handed over.
 */
const pools: Db[] = [];
const clients: pg.Client[] = [];
let adminUrl: string;
let urls: Record<keyof typeof DATABASE_SERVICES, string>;

const platformMigrations = [outboxMigration, inboxMigration, outboxPublishAfterCommitMigration];

async function startAs(service: keyof typeof DATABASE_SERVICES): Promise<Db> {
  const db = createPool(urls[service], DATABASE_SERVICES[service]);
  pools.push(db);
  await migrate(db, DATABASE_SERVICES[service], [
    ...platformMigrations,
    { id: `${service}/001_things`, sql: 'CREATE TABLE things (id uuid PRIMARY KEY, note text NOT NULL)' },
  ]);
  await migrate(db, KEYRING_SCHEMA, keyringMigrations);
  return db;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  return client;
}

const registered = (customerId: string): DomainEvent =>
  createEvent(
    'CustomerRegistered',
    customerId,
    { customerId, name: 'Grace Hopper', email: 'grace@example.org', balanceCents: 0 },
    { id: uuidv7(), occurredAt: new Date().toISOString(), correlationId: uuidv7(), causationId: 'test', actor: 'test' },
  );

beforeAll(async () => {
  adminUrl = await createTestDatabase(inject('postgresUrl'), 'roles');
  const made = await serviceDatabaseUrls(adminUrl);
  if (!made) throw new Error('the test Postgres user is a superuser: roles must be made');
  urls = made;
});

afterAll(async () => {
  for (const client of clients) await client.end().catch(() => undefined);
  for (const pool of pools) await pool.end();
});

describe('per-service database roles', () => {
  it('lets each service migrate and write its own schema and seal through the shared keyring', async () => {
    const order = await startAs('order');
    const inventory = await startAs('inventory');
    const keyring = new Keyring(parseKeyEncryptionKey(newKeyEncryptionKey())).attach(order);
    const customerId = uuidv7();
    const event = registered(customerId);
    await withTransaction(order, async (tx) => {
      await tx.query(`INSERT INTO things (id, note) VALUES ($1, 'mine')`, [uuidv7()]);
      await enqueue(tx, [eventMessage(event)]);
    });
    expect((await order.query(`SELECT count(*)::int AS n FROM orders.things`)).rows[0].n).toBe(1);
    // The key the order service made, inventory opens (both are keyring users); an erasure is an UPDATE.
    const [sealed] = (await order.query<{ payload: DomainEvent }>('SELECT payload FROM outbox')).rows.map((row) => row.payload);
    expect(JSON.stringify(sealed)).not.toContain('Grace');
    expect(await keyring.open(inventory, [sealed!])).toEqual([event]);
    await withTransaction(inventory, (tx) => keyring.erase(tx, customerId, new Date()));
    expect(await keyring.isErased(order, customerId)).toBe(true);
    // Owners of what they made: the service's tables are its role's, the keyring's tables the keyring owner's.
    const { rows } = await connectAdmin().then((admin) =>
      admin.query<{ schema: string; owner: string }>(
        `SELECT schemaname AS schema, tableowner AS owner FROM pg_tables WHERE schemaname IN ('orders', 'keyring') AND tablename IN ('things', 'data_keys')`,
      ),
    );
    expect(Object.fromEntries(rows.map((row) => [row.schema, row.owner]))).toEqual({
      orders: databaseRole('order'),
      keyring: 'jetsaga_keyring',
    });
  });

  it("refuses a service every read, write and change of another service's schema, and any schema of its own making", async () => {
    await startAs('payment');
    const order = await connect(urls.order);
    const refusals: Record<string, string> = {};
    for (const [what, sql] of Object.entries({
      read: 'SELECT * FROM payment.things',
      write: `INSERT INTO payment.things (id, note) VALUES ('${uuidv7()}', 'not mine')`,
      outbox: 'DELETE FROM payment.outbox',
      create: 'CREATE TABLE payment.mine (id int)',
      drop: 'DROP TABLE payment.things',
      'new schema': 'CREATE SCHEMA elsewhere',
      'public schema': 'CREATE TABLE public.mine (id int)',
      'become payment': `SET ROLE ${databaseRole('payment')}`,
      'keyring delete': 'DELETE FROM keyring.data_keys',
      'keyring truncate': 'TRUNCATE keyring.data_keys',
      'keyring drop': 'DROP TABLE keyring.data_keys',
    })) {
      refusals[what] = await order.query(sql).then(
        () => 'allowed',
        (error: { message: string }) => error.message,
      );
    }
    expect(refusals).toEqual({
      read: 'permission denied for schema payment',
      write: 'permission denied for schema payment',
      outbox: 'permission denied for schema payment',
      create: 'permission denied for schema payment',
      drop: 'permission denied for schema payment',
      'new schema': expect.stringMatching(/^permission denied for database roles_/),
      'public schema': 'permission denied for schema public',
      'become payment': `permission denied to set role "${databaseRole('payment')}"`,
      'keyring delete': 'permission denied for table data_keys',
      'keyring truncate': 'permission denied for table data_keys',
      'keyring drop': 'must be owner of table data_keys',
    });
  });

  it('gives postgres_exporter the statistics views and no table of any service', async () => {
    await startAs('sales');
    const monitoring = await connect(urlAs(adminUrl, MONITORING_ROLE, derivedRolePassword(adminUrl, 'monitoring')));
    const { rows } = await monitoring.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()`,
    );
    expect(rows[0]!.n).toBeGreaterThan(0);
    await expect(monitoring.query('SELECT * FROM sales.things')).rejects.toThrow('permission denied for schema sales');
    await expect(monitoring.query('SELECT * FROM keyring.data_keys')).rejects.toThrow('permission denied for schema keyring');
  });

  it('hands a schema a shared user set up to its service, and runs again without change', async () => {
    // As it was: one shared (superuser) login made every schema and table.
    const legacyUrl = await createTestDatabase(inject('postgresUrl'), 'legacy');
    const shared = createPool(legacyUrl, 'shipping');
    pools.push(shared);
    await migrate(shared, 'shipping', [
      ...platformMigrations,
      { id: 'shipping/001_things', sql: 'CREATE TABLE things (id serial PRIMARY KEY)' },
    ]);
    await migrate(shared, KEYRING_SCHEMA, keyringMigrations);
    await shared.query('INSERT INTO things DEFAULT VALUES');
    const passwords = rolePasswords((who) => derivedRolePassword(legacyUrl, who));
    await applyDatabaseRoles(legacyUrl, passwords);
    await applyDatabaseRoles(legacyUrl, passwords);
    const shipping = createPool(urlAs(legacyUrl, databaseRole('shipping'), derivedRolePassword(legacyUrl, 'shipping')), 'shipping');
    pools.push(shipping);
    // Its migrations are all applied (nothing to do), its rows and sequence are its own, the keyring is shared.
    expect(await migrate(shipping, 'shipping', [...platformMigrations, { id: 'shipping/001_things', sql: 'unused' }])).toEqual([]);
    expect(await migrate(shipping, KEYRING_SCHEMA, keyringMigrations)).toEqual([]);
    await shipping.query('INSERT INTO things DEFAULT VALUES');
    expect((await shipping.query('SELECT count(*)::int AS n FROM things')).rows[0].n).toBe(2);
    await shipping.query(`INSERT INTO keyring.data_keys (customer_id, key_id, wrapped) VALUES ($1, $2, '\\x00')`, [uuidv7(), uuidv7()]);
    const other = await connect(urlAs(legacyUrl, databaseRole('audit'), derivedRolePassword(legacyUrl, 'audit')));
    await expect(other.query('SELECT * FROM shipping.things')).rejects.toThrow('permission denied for schema shipping');
  });
});

let admin: pg.Client | undefined;
async function connectAdmin(): Promise<pg.Client> {
  admin ??= await connect(adminUrl);
  return admin;
}
