import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureMailpit, ensureNatsServer, natsAuthFor, startDevIssuer, startPostgres } from '@jetsaga/devstack';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

/**
 * Once per run: a real Postgres on a free loopback port (its own temporary data directory), a nats-server and a Mailpit binary and
 * the development token issuer every test system trusts (test files sign their tokens with its keys, support/tokens.ts).
 * Each test file then starts its own nats-server and creates its own database. The NATS users (derived from
 * k8s/topology) get new passwords for each run: every test nats-server admits them and no anonymous client.
 */
export default async function setup(project: TestProject) {
  const natsServerBin = await ensureNatsServer((message) => console.log(`[test set-up] ${message}`));
  const mailpitBin = await ensureMailpit((message) => console.log(`[test set-up] ${message}`));
  const postgres = await startPostgres({ dir: await mkdtemp(join(tmpdir(), 'jetsaga-pg-')), ephemeral: true, fast: true });
  const issuer = await startDevIssuer({ dir: await mkdtemp(join(tmpdir(), 'jetsaga-issuer-')), tokenEndpoint: true });
  project.provide('postgresUrl', postgres.url);
  project.provide('natsServerBin', natsServerBin);
  project.provide('mailpitBin', mailpitBin);
  project.provide('authIssuerDir', issuer.dir);
  project.provide('authEnv', issuer.env);
  // The console's development sign-in (tests/src/console*.e2e.test.ts) asks it for tokens.
  project.provide('authTokenUrl', issuer.tokenUrl ?? '');
  project.provide('natsAuth', await natsAuthFor());
  return async () => {
    await issuer.stop();
    await postgres.stop();
  };
}
