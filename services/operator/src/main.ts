import { hostname } from 'node:os';
import { configFields, connectNats, createLogger, loadConfig } from '@jetsaga/platform';
import { z } from 'zod';
import { apiToken } from './api-token.js';
import { LEASE_NAME } from './constants.js';
import { defaultKubeConfig } from './kube.js';
import { startOperator } from './operator.js';

const config = loadConfig(
  z.object({
    NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
    /** The NATS admin user: the operator alone manages streams and consumers. */
    NATS_USER: z.string().min(1).optional(),
    NATS_PASSWORD: z.string().min(1).optional(),
    /** A CA file (PEM) to verify the NATS servers by; `NATS_TLS=true` alone uses the system's trust store. */
    NATS_TLS_CA: z.string().min(1).optional(),
    NATS_TLS: configFields.flag(),
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(8090),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    LOG_LEVEL: configFields.logLevel(),
    /** The namespace whose custom resources this operator owns (the chart sets its own namespace). */
    WATCH_NAMESPACE: z.string().min(1).default('default'),
    EVENT_STORE_URL: z.url().default('http://127.0.0.1:8085'),
    /** Unique per pod: the Lease records who holds it. */
    POD_NAME: z.string().min(1).default(hostname()),
    RESYNC_SECONDS: z.coerce.number().positive().default(30),
    /** One Lease per release: two releases in a namespace must not share (or fight over) one. */
    LEASE_NAME: z.string().min(1).default(LEASE_NAME),
    LEASE_DURATION_SECONDS: z.coerce.number().int().positive().default(15),
    /** Stop reconciling after this long without a renewal; shorter than the lease. Default: two thirds of it. */
    LEASE_RENEW_DEADLINE_SECONDS: z.coerce.number().positive().optional(),
    LEASE_RETRY_SECONDS: z.coerce.number().positive().default(2),
  }),
);

const log = createLogger('operator', config.LOG_LEVEL);
const nc = await connectNats(config.NATS_URL, 'operator', {
  ...(config.NATS_USER ? { user: config.NATS_USER, password: config.NATS_PASSWORD ?? '' } : {}),
  ...(config.NATS_TLS_CA ? { tlsCaFile: config.NATS_TLS_CA } : {}),
  ...(config.NATS_TLS ? { tls: true } : {}),
});
const operator = await startOperator({
  kubeConfig: defaultKubeConfig(),
  namespace: config.WATCH_NAMESPACE,
  nc,
  eventStoreUrl: config.EVENT_STORE_URL,
  eventStoreToken: apiToken(process.env),
  identity: config.POD_NAME,
  log,
  resyncMs: config.RESYNC_SECONDS * 1000,
  leaseName: config.LEASE_NAME,
  leaseDurationSeconds: config.LEASE_DURATION_SECONDS,
  renewDeadlineMs: config.LEASE_RENEW_DEADLINE_SECONDS === undefined ? undefined : config.LEASE_RENEW_DEADLINE_SECONDS * 1000,
  leaseRetryMs: config.LEASE_RETRY_SECONDS * 1000,
  http: { host: config.HOST, port: config.PORT, metricsPort: config.METRICS_PORT },
});
log.info(
  { port: operator.httpPort, metricsPort: operator.metricsPort, namespace: config.WATCH_NAMESPACE, lease: config.LEASE_NAME },
  'operator listening',
);

const shutdown = () =>
  void (async () => {
    log.info('shutting down: releasing the Lease');
    await operator.stop();
    await nc.drain().catch(() => undefined);
    process.exit(0);
  })();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, shutdown);
