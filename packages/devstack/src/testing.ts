import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type {} from 'vitest';
import { type NatsAuth } from './nats-auth.js';
import { type NatsServer, startNatsServer } from './nats-server.js';

/** Values the test run's global set-up provides to every test file. */
export type TestEnvironment = { postgresUrl: string; natsServerBin: string; natsAuth: NatsAuth };

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
    natsServerBin: string;
    /** Mailpit, built once for the run: each test system starts its own on free ports. */
    mailpitBin: string;
    /** The suite's development token issuer: its key directory (to sign) and what a service needs to trust it. */
    authIssuerDir: string;
    authEnv: Record<string, string>;
    /** Its development token endpoint (POST {role, sub}), for the console's sign-in page. */
    authTokenUrl: string;
    /** The run's NATS users and passwords (new for each run), derived from k8s/topology. */
    natsAuth: NatsAuth;
  }
}

/**
 * A fresh nats-server with JetStream on free loopback ports and a temporary store, for one test file; with `auth`
 * (the run's users), it admits only them, as every real deployment does.
 */
export async function startTestNats(bin: string, options: { syncAlways?: boolean; auth?: NatsAuth } = {}): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'jetsaga-nats-'));
  return startNatsServer({ bin, dir, syncAlways: options.syncAlways ?? true, name: 'jetsaga-test', auth: options.auth });
}

/** A fresh database on the shared test Postgres, so test files never see each other's rows. */
export async function createTestDatabase(postgresUrl: string, prefix = 'test'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
