import { type DomainEvent, uuidv7 } from '@jetsaga/events';
import type { Hono } from 'hono';
import { z } from 'zod';
import { loadAuthConfig } from './auth.js';
import { configFields, loadConfig } from './config.js';
import { type BatchFailures, type BatchItem, type ConsumerSpec, type Delivery, EventConsumer } from './consumer.js';
import { createPool, type Db, type Migration, migrate } from './db.js';
import { createHttpApp, DRAIN_CONFIG, drainHttpServer, startHttpServer } from './http.js';
import { inboxMigration } from './inbox.js';
import { KEYRING_SCHEMA, Keyring, keyringMigrations } from './keyring.js';
import { createLogger, type Logger } from './log.js';
import { connectNats, decodeEvent, type NatsAccess, type NatsConnection } from './nats.js';
import { watchOutbox } from './messaging-metrics.js';
import { initMetrics, startMetricsServer } from './metrics.js';
import { OutboxPublisher, OutboxRelay, outboxMigration, outboxPublishAfterCommitMigration } from './outbox.js';
import { parseKeyEncryptionKey } from './sealing.js';
import { stopTelemetry } from './telemetry.js';

/** What every handler and route gets: I/O comes in as plain values, never from globals. */
export type ServiceDeps = {
  db: Db;
  nc: NatsConnection;
  log: Logger;
  now: () => Date;
  newId: () => string;
  env: NodeJS.ProcessEnv;
  /**
   * Customers' data keys (ADR 0052): the events this service writes are sealed with them by the outbox; a consumer
   * that needs plaintext personal data asks for it (`personalData: deps.keyring`).
   */
  keyring: Keyring;
};

/**
 * A consumer of the service: `handleBatch` (what `reactor` builds: a batch in one transaction) or `handle` (one message
 * at a time, in order).
 */
export type ConsumerDefinition<T = DomainEvent> = {
  spec: ConsumerSpec;
  decode?: (data: Uint8Array, delivery: Delivery) => T;
  handle?: (message: T, delivery: Delivery) => Promise<void>;
  handleBatch?: (items: readonly BatchItem<T>[]) => Promise<BatchFailures | void>;
  maxBatch?: number;
  /**
   * Opens the personal fields of each event before it is handled (plaintext, or `[erased]`); without it the handler sees
   * them sealed, as most services need nothing else (ADR 0052).
   */
  personalData?: Keyring;
};

export type Worker = { start(): void | Promise<void>; stop(): Promise<void> };

export type ServiceDefinition = {
  name: string;
  schema: string;
  defaultPort: number;
  migrations: readonly Migration[];
  /** Background work beside consumers (the event store's mirror and projections), started before the routes. */
  workers?: (deps: ServiceDeps) => Worker[];
  routes?: (deps: ServiceDeps) => Hono;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each consumer decodes and handles its own message type
  consumers?: (deps: ServiceDeps) => ConsumerDefinition<any>[];
};

const baseConfig = z.object({
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** This service's NATS user and password: no server of the system admits anonymous clients. */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  /** A CA file (PEM) to verify the NATS servers' certificates by; `NATS_TLS=true` alone uses the system's trust store. */
  NATS_TLS_CA: z.string().min(1).optional(),
  NATS_TLS: configFields.flag(),
  DATABASE_URL: z.string().min(1),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LOG_LEVEL: configFields.logLevel(),
  /** The named `metrics` port (Prometheus, OpenMetrics); 0 takes any free port and logs it. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  METRICS_HOST: z.string().optional(),
  DB_POOL_MAX: z.coerce.number().int().positive().default(10),
  /** Fault injection for the fault suite: the share of handler attempts that fail as a transient error would. */
  FAULT_HANDLER_ERROR_RATE: z.coerce.number().min(0).max(1).default(0),
  ...DRAIN_CONFIG,
  /** The master key that wraps customers' data keys (ADR 0052): 32 bytes, base64 (a Kubernetes Secret in the chart). */
  KEY_ENCRYPTION_KEY: z.string().superRefine((value, ctx) => {
    try {
      parseKeyEncryptionKey(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  }),
});

function natsAccess(config: z.infer<typeof baseConfig>): NatsAccess {
  return {
    ...(config.NATS_USER ? { user: config.NATS_USER, password: config.NATS_PASSWORD ?? '' } : {}),
    ...(config.NATS_TLS_CA ? { tlsCaFile: config.NATS_TLS_CA } : {}),
    ...(config.NATS_TLS ? { tls: true } : {}),
  };
}

/** Decodes a JetStream message as a domain event of the current schema version. */
export { decodeEvent };

async function retry<T>(what: string, log: Logger, fn: () => Promise<T>, deadlineMs = 60_000): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() - started > deadlineMs) throw error;
      log.warn({ err: error, attempt }, `${what} not available yet; retrying`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 2000)));
    }
  }
}

export type RunningService = { port: number; metricsPort: number; stop(): Promise<void>; deps: ServiceDeps };

/**
 * Starts one bounded context: migrations, its NATS connection (as its own user), the outbox relay, its consumers and its HTTP API,
 * and stops them in reverse order on SIGTERM/SIGINT: readiness turns 503 at once, the HTTP server drains (in-flight
 * requests finish), then in-flight handlers finish, NATS drains and pools close.
 */
export async function runService(definition: ServiceDefinition, env: NodeJS.ProcessEnv = process.env): Promise<RunningService> {
  const config = loadConfig(baseConfig, env);
  // Every service verifies bearer tokens on /api/* itself: a request reaching its port directly is refused too.
  const auth = loadAuthConfig(env);
  const log = createLogger(definition.name, config.LOG_LEVEL);
  initMetrics(definition.name);
  const db = createPool(config.DATABASE_URL, definition.schema, { max: config.DB_POOL_MAX, applicationName: definition.name });
  const applied = await retry('postgres', log, () =>
    migrate(db, definition.schema, [outboxMigration, inboxMigration, outboxPublishAfterCommitMigration, ...definition.migrations]),
  );
  const keyring = new Keyring(parseKeyEncryptionKey(config.KEY_ENCRYPTION_KEY)).attach(db);
  applied.push(...(await retry('postgres', log, () => migrate(db, KEYRING_SCHEMA, keyringMigrations))));
  if (applied.length > 0) log.info({ applied }, 'migrations applied');
  const nc = await retry('nats', log, () => connectNats(config.NATS_URL, definition.name, natsAccess(config)));
  if (!config.NATS_USER) log.warn('NATS_USER is not set: connecting without credentials, which a secured server refuses');
  // Streams and consumers are the topology step's (npm start, the test set-up) or the operator's: this service's NATS
  // user may not create them, and its consumers wait until theirs exist.

  const deps: ServiceDeps = { db, nc, log, now: () => new Date(), newId: () => uuidv7(), env, keyring };
  // What this process commits it publishes itself, right after the commit; the relay sweeps up after crashes.
  const publisher = new OutboxPublisher({ db, nc, log }).attach();
  const relay = new OutboxRelay({ db, nc, schema: definition.schema, log });
  relay.start();
  watchOutbox(db, definition.schema, log);

  const consumers = (definition.consumers?.(deps) ?? [])
    .map((declared) => (declared.personalData ? openingPersonalData(declared, declared.personalData, db) : declared))
    .map(
      (consumer) =>
        new EventConsumer({
          nc,
          log,
          spec: consumer.spec,
          decode: consumer.decode ?? decodeEvent,
          ...(consumer.handle ? { handle: consumer.handle } : {}),
          ...(consumer.handleBatch ? { handleBatch: consumer.handleBatch } : {}),
          ...(consumer.maxBatch ? { maxBatch: consumer.maxBatch } : {}),
          injectFault: config.FAULT_HANDLER_ERROR_RATE > 0 ? () => Math.random() < config.FAULT_HANDLER_ERROR_RATE : undefined,
        }),
    );
  for (const consumer of consumers) await retry('consumer', log, () => consumer.start());
  const workers = definition.workers?.(deps) ?? [];
  for (const worker of workers) await worker.start();

  let draining = false;
  // Ready means this pod can serve (ADR 0055): every route needs its database, so Postgres is checked (the probe's
  // failureThreshold rides out a blip); NATS is shown for diagnosis only, as requests are served without it (what
  // they commit waits in the outbox) and every pod shares it.
  const app = createHttpApp({
    log,
    auth,
    draining: () => draining,
    readiness: {
      postgres: async () => {
        await db.query('SELECT 1');
      },
    },
    dependencies: {
      nats: async () => {
        if (nc.isClosed()) throw new Error('connection closed');
        await nc.flush();
      },
    },
  });
  if (definition.routes) app.route('/', definition.routes(deps));
  const server = await startHttpServer(app, config.PORT ?? definition.defaultPort, config.HOST);
  log.info({ port: server.port, host: config.HOST }, `${definition.name} listening`);
  const metrics = await startMetricsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST ?? config.HOST, log });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down');
      // Readiness 503 at once, requests served through the delay, then in-flight ones finish (bounded) before the rest stops.
      await drainHttpServer(server, {
        delayMs: config.SHUTDOWN_DELAY_MS,
        timeoutMs: config.DRAIN_TIMEOUT_MS,
        log,
        markDraining: () => {
          draining = true;
        },
      });
      await metrics.close();
      for (const consumer of consumers) await consumer.stop();
      for (const worker of workers) await worker.stop();
      await publisher.stop();
      await relay.stop();
      await nc.drain().catch(() => undefined);
      await db.end();
      log.info('stopped');
      await stopTelemetry();
    })();
    return stopping;
  };
  const shutdown = () =>
    void stop().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, shutdown);
  watchParent(env, log, shutdown);
  return { port: server.port, metricsPort: metrics.port, stop, deps };
}

/** The consumer with its messages' personal fields opened before they are handled (one key look-up per batch). */
export function openingPersonalData<T>(consumer: ConsumerDefinition<T>, keyring: Keyring, db: Db): ConsumerDefinition<T> {
  const { handle, handleBatch } = consumer;
  return {
    ...consumer,
    ...(handle
      ? {
          handle: async (message: T, delivery: Delivery) => {
            const [opened] = await keyring.open(db, [message]);
            return handle(opened as T, delivery);
          },
        }
      : {}),
    ...(handleBatch
      ? {
          handleBatch: async (items: readonly BatchItem<T>[]) => {
            const opened = await keyring.open(
              db,
              items.map((item) => item.message),
            );
            return handleBatch(items.map((item, index) => ({ ...item, message: opened[index] as T })));
          },
        }
      : {}),
  };
}

/**
 * A service started by a supervisor (npm start, tests) stops when that supervisor is gone, even after a kill -9:
 * nothing is left running behind it.
 */
export function watchParent(env: NodeJS.ProcessEnv, log: Logger, shutdown: () => void): void {
  const parent = Number.parseInt(env.JETSAGA_PARENT_PID ?? '', 10);
  if (!parent) return;
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      clearInterval(timer);
      log.warn({ parent }, 'supervisor is gone; shutting down');
      shutdown();
    }
  }, 1000);
  timer.unref();
}
