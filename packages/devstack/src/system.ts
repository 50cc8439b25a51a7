import { fileURLToPath } from 'node:url';
import { freePort, preferredPort, waitFor } from './ports.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const SERVICES = ['order', 'inventory', 'payment', 'sales', 'event-store', 'gateway'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Ports `npm start` prefers, so that its URLs are stable; any free port is taken when one is busy. */
export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 8080,
  order: 8081,
  inventory: 8082,
  payment: 8083,
  sales: 8084,
  'event-store': 8085,
};

/** Each service's named `metrics` port sits this far above its HTTP port when `npm start` has its preferred ports (8080 -> 9464). */
export const METRICS_PORT_OFFSET = 1384;

/** Loaded before each service's own modules: starts OpenTelemetry when an OTLP endpoint is configured. */
export const TELEMETRY_PRELOAD = fileURLToPath(new URL('packages/platform/dist/register.js', `file://${REPO_ROOT}`));

export type SystemOptions = {
  natsUrl: string;
  databaseUrl: string;
  /** Stable default ports (npm start) or any free ports (tests, beside a running npm start). */
  ports?: 'preferred' | 'free';
  env?: Record<string, string>;
  output: SupervisorOptions['output'];
  onEvent?: SupervisorOptions['onEvent'];
  readyTimeoutMs?: number;
};

export type RunningSystem = {
  gatewayUrl: string;
  urls: Record<ServiceName, string>;
  /** Each service's Prometheus endpoint (`.../metrics`). */
  metricsUrls: Record<ServiceName, string>;
  supervisor: Supervisor;
  stop(): Promise<void>;
};

export function serviceEntry(name: ServiceName): string {
  return fileURLToPath(new URL(`services/${name}/dist/main.js`, `file://${REPO_ROOT}`));
}

/** Starts every service as its own supervised process and waits until the gateway reports all of them ready. */
export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const ports = {} as Record<ServiceName, number>;
  for (const name of SERVICES) {
    ports[name] = options.ports === 'preferred' ? await preferredPort(DEFAULT_PORTS[name]) : await freePort();
  }
  const metricsPorts = {} as Record<ServiceName, number>;
  for (const name of SERVICES) {
    metricsPorts[name] = options.ports === 'preferred' ? await preferredPort(DEFAULT_PORTS[name] + METRICS_PORT_OFFSET) : await freePort();
  }
  const metricsUrls = Object.fromEntries(SERVICES.map((name) => [name, `http://127.0.0.1:${metricsPorts[name]}/metrics`])) as Record<
    ServiceName,
    string
  >;
  const urls = Object.fromEntries(SERVICES.map((name) => [name, `http://127.0.0.1:${ports[name]}`])) as Record<ServiceName, string>;
  const common: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NATS_URL: options.natsUrl,
    DATABASE_URL: options.databaseUrl,
    ORDER_URL: urls.order,
    INVENTORY_URL: urls.inventory,
    PAYMENT_URL: urls.payment,
    SALES_URL: urls.sales,
    EVENT_STORE_URL: urls['event-store'],
    ...Object.fromEntries(
      Object.entries(process.env).filter(([key]) => key.startsWith('OTEL_') || key === 'LOG_LEVEL' || key === 'SAGA_DEADLINE_MS'),
    ),
    ...options.env,
  };
  const supervisor = new Supervisor({ output: options.output, onEvent: options.onEvent });
  for (const name of SERVICES) {
    supervisor.add({
      name,
      command: process.execPath,
      args: ['--enable-source-maps', '--import', TELEMETRY_PRELOAD, serviceEntry(name)],
      env: { ...common, PORT: String(ports[name]), METRICS_PORT: String(metricsPorts[name]), OTEL_SERVICE_NAME: name },
      cwd: REPO_ROOT,
    });
  }
  try {
    await waitFor(
      'every service to be ready',
      async () => (await fetch(`${urls.gateway}/readyz`, { signal: AbortSignal.timeout(2000) })).ok,
      options.readyTimeoutMs ?? 60_000,
      100,
    );
  } catch (error) {
    await supervisor.stop();
    throw error;
  }
  return { gatewayUrl: urls.gateway, urls, metricsUrls, supervisor, stop: () => supervisor.stop() };
}
