import {
  configFields,
  connectNats,
  createHttpApp,
  createLogger,
  DRAIN_CONFIG,
  drainHttpServer,
  initMetrics,
  loadAuthConfig,
  loadConfig,
  type NatsConnection,
  NotFoundError,
  startHttpServer,
  startMetricsServer,
  stopTelemetry,
  watchParent,
} from '@jetsaga/platform';
import { z } from 'zod';
import { admission } from './admission.js';
import { CONSOLE_CONFIG, consoleRoutes } from './console.js';
import { docsRoutes } from './docs.js';
import { HARDENING_CONFIG, hardening } from './hardening/index.js';
import { forward, ROUTES, type Upstream, upstreamFor } from './proxy.js';
import { STREAM_CONFIG, streamLimits } from './stream/config.js';
import { sagaOwnership, shipmentOwnership } from './stream/ownership.js';
import { streamRoutes } from './stream/routes.js';

const config = loadConfig(
  z.object({
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ORDER_URL: z.url().default('http://127.0.0.1:8081'),
    INVENTORY_URL: z.url().default('http://127.0.0.1:8082'),
    PAYMENT_URL: z.url().default('http://127.0.0.1:8083'),
    SALES_URL: z.url().default('http://127.0.0.1:8084'),
    SUPPORT_URL: z.url().default('http://127.0.0.1:8087'),
    EVENT_STORE_URL: z.url().default('http://127.0.0.1:8085'),
    SHIPPING_URL: z.url().default('http://127.0.0.1:8086'),
    NOTIFICATION_URL: z.url().default('http://127.0.0.1:8088'),
    AUDIT_URL: z.url().default('http://127.0.0.1:8089'),
    // Admission control: docs/adr/0038-admission-control.md says how the defaults were measured.
    GATEWAY_MAX_INFLIGHT_CHECKOUTS: z.coerce.number().int().positive().default(16),
    GATEWAY_CHECKOUT_QUEUE: z.coerce.number().int().min(0).default(64),
    // New carts waiting for the door to open; unset: as many as GATEWAY_CHECKOUT_QUEUE.
    GATEWAY_NEW_CART_QUEUE: z.coerce.number().int().min(0).optional(),
    GATEWAY_CHECKOUT_QUEUE_MS: z.coerce.number().int().min(0).default(2000),
    // New carts wait, then are refused, from this many requests in flight; unset: four times the checkout bound.
    GATEWAY_MAX_INFLIGHT_SHOPPING: z.coerce.number().int().positive().optional(),
    GATEWAY_MAX_INFLIGHT_REQUESTS: z.coerce.number().int().positive().default(256),
    // The event stream reads EVENTS as the gateway's own NATS user (read-only: packages/devstack/src/nats-auth.ts).
    NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
    NATS_USER: z.string().min(1).optional(),
    NATS_PASSWORD: z.string().min(1).optional(),
    NATS_TLS_CA: z.string().min(1).optional(),
    NATS_TLS: configFields.flag(),
    ...DRAIN_CONFIG,
    ...STREAM_CONFIG,
    ...HARDENING_CONFIG,
    ...CONSOLE_CONFIG,
  }),
);

const upstreams: Record<Upstream, string> = {
  order: config.ORDER_URL,
  inventory: config.INVENTORY_URL,
  payment: config.PAYMENT_URL,
  sales: config.SALES_URL,
  support: config.SUPPORT_URL,
  'event-store': config.EVENT_STORE_URL,
  shipping: config.SHIPPING_URL,
  notification: config.NOTIFICATION_URL,
  audit: config.AUDIT_URL,
};

const log = createLogger('gateway', config.LOG_LEVEL);
initMetrics('gateway');
// Ready means this gateway pod can serve (ADR 0055): it is not draining. Its upstreams and its own NATS connection are
// dependencies shown for diagnosis (/readyz?verbose, /readyz/<name>): a request to an upstream that is down gets a
// 502/503 problem, the live stream a 503 while NATS is away, and the other routes go on being served.
let draining = false;
const dependencies = {
  nats: async () => {
    if (!nc) throw new Error('not connected yet');
    if (nc.isClosed()) throw new Error('connection closed');
    await nc.flush();
  },
  ...Object.fromEntries(
    Object.entries(upstreams).map(([name, url]) => [
      name,
      async (signal: AbortSignal) => {
        const response = await fetch(`${url}/readyz`, { signal });
        if (!response.ok) throw new Error(`${name} answered ${response.status}`);
      },
    ]),
  ),
};
const limits = hardening(config);
// The gateway refuses requests without a valid token before they take an admission slot; it forwards the Authorization
// header unchanged and each service verifies it again.
const app = createHttpApp({
  log,
  dependencies,
  draining: () => draining,
  edge: limits.edge,
  maxBodyBytes: config.GATEWAY_MAX_BODY_BYTES,
  auth: loadAuthConfig(process.env),
});

// The published API (/openapi.json, /docs, /asyncapi.json): outside /api/*, no token.
app.route('/', docsRoutes({ upstreams, log, own: () => live.declared }));

app.use('/api/*', limits.perPrincipal);

// The live event stream: counted by the rate limit once, when it opens; outside admission control and the upstream
// timeout (it is answered here and lasts as long as the client stays), capped per principal instead.
let nc: NatsConnection | undefined;
const ownsSaga = sagaOwnership(config.EVENT_STORE_URL);
const ownsShipment = shipmentOwnership(config.SHIPPING_URL);
const live = streamRoutes({ nc: () => nc, log, limits: streamLimits(config), ownsSaga, ownsShipment });
app.route('/', live.app);

app.use(
  '/api/*',
  admission({
    checkouts: config.GATEWAY_MAX_INFLIGHT_CHECKOUTS,
    checkoutQueue: config.GATEWAY_CHECKOUT_QUEUE,
    checkoutQueueMs: config.GATEWAY_CHECKOUT_QUEUE_MS,
    shopping: config.GATEWAY_MAX_INFLIGHT_SHOPPING ?? 4 * config.GATEWAY_MAX_INFLIGHT_CHECKOUTS,
    ...(config.GATEWAY_NEW_CART_QUEUE === undefined ? {} : { newCartQueue: config.GATEWAY_NEW_CART_QUEUE }),
    requests: config.GATEWAY_MAX_INFLIGHT_REQUESTS,
  }),
);

app.all('/api/*', async (c) => {
  const upstream = upstreamFor(c.req.method, c.req.path);
  if (!upstream) throw new NotFoundError(`no route for ${c.req.method} ${c.req.path}`);
  return forward(c, upstreams[upstream], config.GATEWAY_UPSTREAM_TIMEOUT_MS);
});
// The console (web/dist) at / and its client routes; `/` answers the index below to JSON clients.
app.route(
  '/',
  consoleRoutes({
    dir: config.GATEWAY_CONSOLE_DIR,
    log,
    devTokenUrl: config.GATEWAY_DEV_TOKEN_URL,
    links: { jaeger: config.GATEWAY_CONSOLE_JAEGER_URL, grafana: config.GATEWAY_CONSOLE_GRAFANA_URL },
    index: () => ({ name: 'jetsaga', routes: [...new Set(ROUTES.map((route) => route.prefix))], health: '/healthz', readiness: '/readyz' }),
  }),
);

const server = await startHttpServer(app, config.PORT, config.HOST);
log.info(
  {
    port: server.port,
    host: config.HOST,
    maxInflightCheckouts: config.GATEWAY_MAX_INFLIGHT_CHECKOUTS,
    checkoutQueue: config.GATEWAY_CHECKOUT_QUEUE,
    maxInflightShopping: config.GATEWAY_MAX_INFLIGHT_SHOPPING ?? 4 * config.GATEWAY_MAX_INFLIGHT_CHECKOUTS,
    maxInflightRequests: config.GATEWAY_MAX_INFLIGHT_REQUESTS,
  },
  'gateway listening',
);
const metrics = await startMetricsServer({ port: config.METRICS_PORT, host: config.HOST, log });
void (async () => {
  for (let attempt = 1; !nc; attempt++) {
    try {
      nc = await connectNats(config.NATS_URL, 'gateway', {
        ...(config.NATS_USER ? { user: config.NATS_USER, password: config.NATS_PASSWORD ?? '' } : {}),
        ...(config.NATS_TLS_CA ? { tlsCaFile: config.NATS_TLS_CA } : {}),
        ...(config.NATS_TLS ? { tls: true } : {}),
      });
      log.info({ url: config.NATS_URL }, 'event stream connected to NATS');
    } catch (error) {
      // The proxy serves without NATS; only the event stream answers 503 meanwhile.
      log.warn({ err: error, attempt }, 'NATS not available yet for the event stream; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 5000)));
    }
  }
})();

// SIGTERM: readiness 503 at once, requests served through SHUTDOWN_DELAY_MS; then the open event streams end (their
// clients resume on another gateway with their Last-Event-ID) and in-flight requests get DRAIN_TIMEOUT_MS to finish;
// then NATS drains.
let stopping: Promise<void> | undefined;
const shutdown = () =>
  void (stopping ??= drainHttpServer(server, {
    delayMs: config.SHUTDOWN_DELAY_MS,
    timeoutMs: config.DRAIN_TIMEOUT_MS,
    log,
    markDraining: () => {
      draining = true;
    },
    afterDelay: () => {
      const streams = live.endStreams();
      if (streams > 0) log.info({ streams }, 'event streams ended: their clients resume on another gateway');
    },
  })
    .then(() => Promise.all([metrics.close(), nc?.drain().catch(() => undefined)]))
    .then(() => stopTelemetry())
    .then(() => process.exit(0)));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, shutdown);
watchParent(process.env, log, shutdown);
