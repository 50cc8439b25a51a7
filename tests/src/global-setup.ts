import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNatsServer, startPostgres } from '@jetsaga/devstack';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

/**
 * Once per run: a real Postgres on a free loopback port (its own temporary data directory) and a nats-server binary.
 * Each test file then starts its own nats-server and creates its own database.
 */
export default async function setup(project: TestProject) {
  const natsServerBin = await ensureNatsServer((message) => console.log(`[test set-up] ${message}`));
  const postgres = await startPostgres({ dir: await mkdtemp(join(tmpdir(), 'jetsaga-pg-')), ephemeral: true, fast: true });
  project.provide('postgresUrl', postgres.url);
  project.provide('natsServerBin', natsServerBin);
  return async () => {
    await postgres.stop();
  };
}
