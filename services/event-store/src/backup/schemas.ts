import {
  inboxMigration,
  KEYRING_SCHEMA,
  keyringMigrations,
  type Migration,
  outboxMigration,
  outboxPublishAfterCommitMigration,
} from '@jetsaga/platform';

/**
 * Each schema of the database and the service whose migrations make it (its runService definition's `schema`): a
 * restore lays every schema with the release's own migrations, then loads the rows. Kept in step with the services by
 * the restore itself, which refuses a backup whose schemas or migration ids differ from what these give.
 */
export const SERVICE_SCHEMAS: Readonly<Record<string, string>> = {
  orders: 'order',
  inventory: 'inventory',
  payment: 'payment',
  sales: 'sales',
  shipping: 'shipping',
  support: 'support',
  notification: 'notification',
  audit: 'audit',
  eventstore: 'event-store',
};

/** What runService applies before a service's own migrations. */
const PLATFORM_MIGRATIONS: readonly Migration[] = [outboxMigration, inboxMigration, outboxPublishAfterCommitMigration];

/**
 * The migrations of a schema, as its service applies them. The services' compiled migrations are read from the one
 * image that holds them all (services/<name>/dist/migrations.js beside this service's dist).
 */
export async function migrationsOf(schema: string): Promise<readonly Migration[]> {
  if (schema === KEYRING_SCHEMA) return keyringMigrations;
  const service = SERVICE_SCHEMAS[schema];
  if (!service) throw new Error(`schema ${schema}: no service of this release owns it`);
  const module = (await import(new URL(`../../../${service}/dist/migrations.js`, import.meta.url).href)) as { migrations: Migration[] };
  return [...PLATFORM_MIGRATIONS, ...module.migrations];
}
