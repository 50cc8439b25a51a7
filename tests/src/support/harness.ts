import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  adminCredentials,
  createTestDatabase,
  type MailpitServer,
  type NatsAuth,
  type NatsServer,
  type RunningSystem,
  startMailpit,
  startSystem,
  startTestNats,
  TOPOLOGY_DIR,
  waitFor,
} from '@jetsaga/devstack';
import { applyTopology, loadTopology } from '@jetsaga/operator';
import { connectNats, type NatsConnection } from '@jetsaga/platform';
import { EVENTS_STREAM } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { inject } from 'vitest';
import { type Api, apiClient } from './api.js';
import { testAuthEnv } from './tokens.js';

export type TestSystem = {
  api: Api;
  system: RunningSystem;
  nats: NatsServer;
  /** The system's SMTP server: notification sends there; its API counts what arrived. */
  mailpit: MailpitServer;
  /** The run's NATS users and passwords. */
  natsAuth: NatsAuth;
  /** A connection as the admin (it may do anything: inspect, publish, manage). */
  nc: NatsConnection;
  /** A plain connection to the system's database, to check invariants across schemas. */
  sql: pg.Pool;
  logDir: string;
  /** The AUTH_* the services were started with: what another process beside them needs to verify the same tokens. */
  authEnv: Record<string, string>;
  stop(): Promise<void>;
};

/**
 * What `npm start` does before the services start, as the admin: k8s/topology applied through the operator's
 * reconcile steps (streams at `replicas`). Returns the admin's connection.
 */
export async function applyTestTopology(natsUrl: string, auth: NatsAuth, options: { replicas?: number } = {}): Promise<NatsConnection> {
  const nc = await connectNats(natsUrl, 'e2e-test', adminCredentials(auth));
  const topology = await loadTopology(TOPOLOGY_DIR);
  if (options.replicas) for (const stream of topology.streams) stream.spec.replicas = options.replicas;
  await applyTopology(await jetstreamManager(nc), topology);
  return nc;
}

/**
 * The whole system, as `npm start` runs it, on its own nats-server and database and on free loopback ports, trusting
 * the suite's token issuer (unless `env` names another AUTH_ISSUER).
 */
export async function startTestSystem(env: Record<string, string> = {}): Promise<TestSystem> {
  const natsAuth = inject('natsAuth');
  const nats = await startTestNats(inject('natsServerBin'), { auth: natsAuth });
  const databaseUrl = await createTestDatabase(inject('postgresUrl'), 'e2e');
  const nc = await applyTestTopology(nats.url, natsAuth);
  const logDir = await mkdtemp(join(tmpdir(), 'jetsaga-logs-'));
  // Mailpit's data beside the logs, not among them: the log directory holds one file per service.
  const mailDir = await mkdtemp(join(tmpdir(), 'jetsaga-mailpit-'));
  const mailpit = await startMailpit({ bin: inject('mailpitBin'), dir: mailDir });
  const authEnv = env.AUTH_ISSUER ? {} : testAuthEnv();
  const system = await startSystem({
    natsUrl: nats.url,
    natsAuth,
    databaseUrl,
    ports: 'free',
    env: { LOG_LEVEL: 'info', ...mailEnv(mailpit), ...authEnv, ...env },
    output: { kind: 'files', pathFor: (name) => join(logDir, `${name}.log`) },
  });
  const sql = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  return {
    api: apiClient(system.gatewayUrl),
    system,
    nats,
    mailpit,
    natsAuth,
    nc,
    sql,
    logDir,
    authEnv: Object.fromEntries(Object.entries({ ...authEnv, ...env }).filter(([key]) => key.startsWith('AUTH_'))),
    async stop() {
      await system.stop();
      await sql.end();
      await nc.close();
      await nats.stop();
      await mailpit.stop();
      await rm(mailDir, { recursive: true, force: true });
    },
  };
}

/** What notification needs to send through a Mailpit and look up what it received (ADR 0050). */
export function mailEnv(mailpit: MailpitServer): Record<string, string> {
  return {
    SMTP_HOST: mailpit.smtpHost,
    SMTP_PORT: String(mailpit.smtpPort),
    MAIL_LOOKUP_URL: mailpit.httpUrl,
    SMTP_TIMEOUT_MS: '5000',
  };
}

/** Waits until a durable consumer has nothing pending and nothing unacknowledged. */
export async function waitForConsumerIdle(nc: NatsConnection, stream: string, durable: string, timeoutMs = 30_000): Promise<void> {
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const jsm = await jetstreamManager(nc);
  await waitFor(
    `consumer ${durable} to be idle`,
    async () => {
      const info = await jsm.consumers.info(stream, durable);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    timeoutMs,
  );
}

/** Waits until every service's outbox has relayed what it committed: its events are in the stream. */
export async function waitForOutboxesDrained(sql: Pick<pg.Pool, 'query'>, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    'every outbox to drain',
    async () => {
      const { rows } = await sql.query(`
        SELECT (SELECT count(*) FROM orders.outbox WHERE published_at IS NULL) + (SELECT count(*) FROM inventory.outbox WHERE published_at IS NULL)
             + (SELECT count(*) FROM payment.outbox WHERE published_at IS NULL) + (SELECT count(*) FROM sales.outbox WHERE published_at IS NULL)
             + (SELECT count(*) FROM support.outbox WHERE published_at IS NULL) + (SELECT count(*) FROM shipping.outbox WHERE published_at IS NULL)
             + (SELECT count(*) FROM notification.outbox WHERE published_at IS NULL) AS n`);
      return Number(rows[0].n) === 0;
    },
    timeoutMs,
  );
}

/**
 * Waits until the system has nothing left to do: every durable consumer of EVENTS idle and every outbox relayed, both
 * seen in the same look. Reactions to earlier events (an email, an audit entry) then no longer change the tables.
 */
export async function waitForQuiet(t: Pick<TestSystem, 'nc' | 'sql'>, timeoutMs = 30_000): Promise<void> {
  const jsm = await jetstreamManager(t.nc);
  await waitFor(
    'every consumer idle and every outbox relayed',
    async () => {
      // Durable consumers only: an ephemeral one (a verify's read of the stream, a live tail) may stop reading
      // mid-stream and linger until the server removes it, with messages pending that nobody will ever take.
      const durable = async () => (await jsm.consumers.list(EVENTS_STREAM).next()).filter((info) => info.config.durable_name);
      if ((await durable()).some((info) => info.num_pending > 0 || info.num_ack_pending > 0)) return false;
      await waitForOutboxesDrained(t.sql, timeoutMs);
      return (await durable()).every((info) => info.num_pending === 0 && info.num_ack_pending === 0);
    },
    timeoutMs,
  );
}
