import { fileURLToPath } from 'node:url';
import { freePort, preferredPort, waitFor } from './ports.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const SERVICES = ['order', 'inventory', 'payment', 'sales', 'gateway'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Ports `npm start` prefers, so that its URLs are stable; any free port is taken when one is busy. */
export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 8080,
  order: 8081,
  inventory: 8082,
  payment: 8083,
  sales: 8084,
};

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
      args: ['--enable-source-maps', serviceEntry(name)],
      env: { ...common, PORT: String(ports[name]) },
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
  return { gatewayUrl: urls.gateway, urls, supervisor, stop: () => supervisor.stop() };
}
