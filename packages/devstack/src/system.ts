import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DATABASE_SERVICES, type DatabaseService, serviceDatabaseUrls } from './database-roles.js';
import { credentialsOf, type NatsAuth, NATS_SERVICES } from './nats-auth.js';
import { freePort, isPortFree, waitFor } from './ports.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const SERVICES = [
  'order',
  'inventory',
  'payment',
  'sales',
  'support',
  'event-store',
  'shipping',
  'notification',
  'audit',
  'gateway',
] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Ports `npm start` prefers, so that its URLs are stable; any free port is taken when one is busy. */
export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 8080,
  order: 8081,
  inventory: 8082,
  payment: 8083,
  sales: 8084,
  'event-store': 8085,
  support: 8087,
  shipping: 8086,
  notification: 8088,
  audit: 8089,
};

/** Each service's named `metrics` port sits this far above its HTTP port when `npm start` has its preferred ports (8080 -> 9464). */
export const METRICS_PORT_OFFSET = 1384;

/** Loaded before each service's own modules: starts OpenTelemetry when an OTLP endpoint is configured. */
export const TELEMETRY_PRELOAD = fileURLToPath(new URL('packages/platform/dist/register.js', `file://${REPO_ROOT}`));

export type SystemOptions = {
  natsUrl: string;
  /** The NATS users: each service connects as its own (NATS_USER, NATS_PASSWORD); none without it. */
  natsAuth?: NatsAuth;
  /**
   * The services' database as its superuser: each service gets a role of its own there, owning only its schema
   * (database-roles.ts), and connects as it. A URL of a user who is no superuser is given to every service as it is.
   */
  databaseUrl: string;
  /** Stable default ports (npm start) or any free ports (tests, beside a running npm start). */
  ports?: 'preferred' | 'free';
  /** The caller's own settings for every service, over the launching environment's (see `serviceEnvironment`). */
  env?: Record<string, string>;
  output: SupervisorOptions['output'];
  onEvent?: SupervisorOptions['onEvent'];
  readyTimeoutMs?: number;
  /** The audit trail's Ed25519 checkpoint key (AUDIT_SIGNING_KEY); a new one for this run when not given. */
  auditSigningKey?: string;
  /** The master key of customers' data keys (KEY_ENCRYPTION_KEY, ADR 0052); a new one for this run when not given. */
  keyEncryptionKey?: string;
};

export type RunningSystem = {
  gatewayUrl: string;
  urls: Record<ServiceName, string>;
  /** Each service's Prometheus endpoint (`.../metrics`). */
  metricsUrls: Record<ServiceName, string>;
  supervisor: Supervisor;
  /** The run's master key (KEY_ENCRYPTION_KEY): what another process of the run needs to read the key store. */
  keyEncryptionKey: string;
  stop(): Promise<void>;
};

/**
 * Variables of the launching environment that reach every service unchanged: what the services' configuration
 * schemas read (`runService` in packages/platform, the order and gateway entry points) and the OpenTelemetry SDK's
 * `OTEL_*` (plus `PATH` and `HOME`, which Node and its tools expect).
 */
export const PASSED_VARIABLES = [
  'HOST',
  'METRICS_HOST',
  'LOG_LEVEL',
  'DB_POOL_MAX',
  'SAGA_DEADLINE_MS',
  'SHIPMENT_DEADLINE_MS',
  'FAULT_HANDLER_ERROR_RATE',
  'ONCALL_EMAIL',
  'ALERT_WEBHOOK_TOKEN',
  'NOTIFY_RETRY_BACKOFF_MS',
  'AUDIT_CHECKPOINT_EVERY',
  'AUDIT_VERIFY_INTERVAL_MS',
  'SHUTDOWN_DELAY_MS',
  'DRAIN_TIMEOUT_MS',
] as const;
// AUTH_*: which token issuer every service trusts (issuer, audience, its keys), the same for all of them.
// SMTP_* and MAIL_*: the mail server notification sends through (npm start and the tests point them at Mailpit).
// TRACE_*: where the event store reads traces back from (GET /api/sagas/:id/trace).
const PASSED_PREFIXES = ['OTEL_', 'GATEWAY_', 'COMPLAINT_DEADLINE_', 'AUTH_', 'SMTP_', 'MAIL_', 'TRACE_'] as const;

/**
 * Variables the launcher sets for each service itself (its own ports, its peers' addresses, its trace service name):
 * a value in the launching environment does not apply. `NATS_URL` and `DATABASE_URL` do apply, through the caller
 * (`npm start` uses them instead of starting its own servers).
 */
export const LAUNCHER_VARIABLES = [
  'NATS_URL',
  'NATS_USER',
  'NATS_PASSWORD',
  'DATABASE_URL',
  'PORT',
  'METRICS_PORT',
  'ORDER_URL',
  'INVENTORY_URL',
  'PAYMENT_URL',
  'SALES_URL',
  'SUPPORT_URL',
  'EVENT_STORE_URL',
  'SHIPPING_URL',
  'NOTIFICATION_URL',
  'AUDIT_URL',
  'AUDIT_SIGNING_KEY',
  'KEY_ENCRYPTION_KEY',
  'OTEL_SERVICE_NAME',
] as const;

/** The variables of `parent` that a service launched by `startSystem` would not see as set (for a warning). */
export function overriddenVariables(parent: NodeJS.ProcessEnv): string[] {
  return LAUNCHER_VARIABLES.filter((name) => name !== 'NATS_URL' && name !== 'DATABASE_URL' && parent[name] !== undefined);
}

function passed(name: string): boolean {
  return (PASSED_VARIABLES as readonly string[]).includes(name) || PASSED_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/**
 * The address other processes use to reach a service bound to `host`: loopback for a wildcard bind (or none), the
 * address itself otherwise (bracketed for IPv6, as URLs want it).
 */
export function reachableHost(host: string | undefined): string {
  if (!host || host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export type ServiceEnvironmentInput = {
  name: ServiceName;
  /** The launching process's environment (`process.env`). */
  parent: NodeJS.ProcessEnv;
  natsUrl: string;
  /** The service's own NATS user and password. */
  natsCredentials?: { user: string; password: string };
  databaseUrl: string;
  urls: Record<ServiceName, string>;
  port: number;
  metricsPort: number;
  /** The caller's own settings (tests, bench): they win over the parent's. */
  overrides?: Record<string, string>;
};

/** The whole environment of one service process: passed variables from the parent, then the launcher's, then overrides. */
export function serviceEnvironment(input: ServiceEnvironmentInput): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: input.parent.PATH, HOME: input.parent.HOME };
  for (const [key, value] of Object.entries(input.parent)) if (value !== undefined && passed(key)) env[key] = value;
  Object.assign(env, {
    NATS_URL: input.natsUrl,
    ...(input.natsCredentials ? { NATS_USER: input.natsCredentials.user, NATS_PASSWORD: input.natsCredentials.password } : {}),
    DATABASE_URL: input.databaseUrl,
    ORDER_URL: input.urls.order,
    INVENTORY_URL: input.urls.inventory,
    PAYMENT_URL: input.urls.payment,
    SALES_URL: input.urls.sales,
    SUPPORT_URL: input.urls.support,
    EVENT_STORE_URL: input.urls['event-store'],
    SHIPPING_URL: input.urls.shipping,
    NOTIFICATION_URL: input.urls.notification,
    AUDIT_URL: input.urls.audit,
    ...input.overrides,
    PORT: String(input.port),
    METRICS_PORT: String(input.metricsPort),
    OTEL_SERVICE_NAME: input.name,
  });
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

export function serviceEntry(name: ServiceName): string {
  return fileURLToPath(new URL(`services/${name}/dist/main.js`, `file://${REPO_ROOT}`));
}

/** A new Ed25519 private key for the audit trail's checkpoints, as the base64 of its PKCS#8 DER. */
export function newAuditSigningKey(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

/** A new master key for customers' data keys (KEY_ENCRYPTION_KEY): 32 random bytes, base64. */
export function newKeyEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

/** Starts every service as its own supervised process and waits until each of them reports itself ready. */
export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  // HOST and METRICS_HOST are the services' bind addresses; ports are probed, and peers reached, there.
  const settings = { ...process.env, ...options.env };
  const host = settings.HOST ?? '127.0.0.1';
  const metricsHost = settings.METRICS_HOST ?? host;
  // Each probe closes its socket before the next one opens, so the kernel may hand the same port out twice: one
  // start-up never gives two listeners the same port (a test run once saw event-store refused the gateway's port).
  const taken = new Set<number>();
  const portOn = async (bind: string, preferred: number) => {
    let port =
      options.ports === 'preferred' && !taken.has(preferred) && (await isPortFree(preferred, bind)) ? preferred : await freePort(bind);
    while (taken.has(port)) port = await freePort(bind);
    taken.add(port);
    return port;
  };
  const ports = {} as Record<ServiceName, number>;
  for (const name of SERVICES) ports[name] = await portOn(host, DEFAULT_PORTS[name]);
  const metricsPorts = {} as Record<ServiceName, number>;
  // The gateway binds its metrics port on HOST (it reads no METRICS_HOST).
  const metricsHostOf = (name: ServiceName) => (name === 'gateway' ? host : metricsHost);
  for (const name of SERVICES) metricsPorts[name] = await portOn(metricsHostOf(name), DEFAULT_PORTS[name] + METRICS_PORT_OFFSET);
  const metricsUrls = Object.fromEntries(
    SERVICES.map((name) => [name, `http://${reachableHost(metricsHostOf(name))}:${metricsPorts[name]}/metrics`]),
  ) as Record<ServiceName, string>;
  const urls = Object.fromEntries(SERVICES.map((name) => [name, `http://${reachableHost(host)}:${ports[name]}`])) as Record<
    ServiceName,
    string
  >;
  // Least privilege, as in the chart: one role per service, which cannot read or write another service's schema.
  const databaseUrls = await serviceDatabaseUrls(options.databaseUrl);
  // The gateway and the operator have no database: they are not handed the superuser's URL either.
  const databaseUrlOf = (name: ServiceName) =>
    !databaseUrls ? options.databaseUrl : name in DATABASE_SERVICES ? databaseUrls[name as DatabaseService] : '';
  const supervisor = new Supervisor({ output: options.output, onEvent: options.onEvent });
  const auditSigningKey = options.auditSigningKey ?? options.env?.AUDIT_SIGNING_KEY ?? newAuditSigningKey();
  // One master key for every service of the run: they all read the same key store (ADR 0052).
  const keyEncryptionKey = options.keyEncryptionKey ?? options.env?.KEY_ENCRYPTION_KEY ?? newKeyEncryptionKey();
  for (const name of SERVICES) {
    supervisor.add({
      name,
      command: process.execPath,
      args: ['--enable-source-maps', '--import', TELEMETRY_PRELOAD, serviceEntry(name)],
      env: serviceEnvironment({
        name,
        parent: process.env,
        natsUrl: options.natsUrl,
        ...(options.natsAuth && name in NATS_SERVICES ? { natsCredentials: credentialsOf(options.natsAuth, name) } : {}),
        databaseUrl: databaseUrlOf(name),
        urls,
        port: ports[name],
        metricsPort: metricsPorts[name],
        overrides: {
          ...options.env,
          KEY_ENCRYPTION_KEY: keyEncryptionKey,
          ...(name === 'audit' ? { AUDIT_SIGNING_KEY: auditSigningKey } : {}),
        },
      }),
      cwd: REPO_ROOT,
    });
  }
  try {
    // Each service's own readiness (the gateway's no longer includes its upstreams': ADR 0055), asked all at once.
    const ready = async (name: ServiceName) =>
      (await fetch(`${urls[name]}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined))?.ok === true;
    await waitFor(
      'every service to be ready',
      async () => (await Promise.all(SERVICES.map(ready))).every(Boolean),
      options.readyTimeoutMs ?? 60_000,
      100,
    );
  } catch (error) {
    await supervisor.stop();
    throw error;
  }
  return { gatewayUrl: urls.gateway, urls, metricsUrls, supervisor, keyEncryptionKey, stop: () => supervisor.stop() };
}
