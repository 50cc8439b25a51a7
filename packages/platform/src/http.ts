import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { isUuid, uuidv7 } from '@jetsaga/events';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { type AuthOptions, authenticate, type TokenVerifier } from './auth.js';
import { bodyLimit } from './body-limit.js';
import { databaseUnavailable } from './db.js';
import { type FieldError, HttpError, InvalidTokenError, NotFoundError, UnavailableError, ValidationError } from './errors.js';
import { httpMetrics } from './http-metrics.js';
import type { Logger } from './log.js';

declare module 'hono' {
  interface ContextVariableMap {
    requestId: string;
  }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export type RequestIdOptions = { header?: string };

/** Takes the caller's X-Request-Id when it is sane, or makes one; echoes it on the response. */
export function requestId(options: RequestIdOptions = {}): MiddlewareHandler {
  const header = options.header ?? 'X-Request-Id';
  return async function requestIdMiddleware(c, next) {
    const given = c.req.header(header);
    const id = given && REQUEST_ID.test(given) ? given : uuidv7();
    c.set('requestId', id);
    c.header(header, id);
    await next();
  };
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

export function problemResponse(c: Context, error: HttpError): Response {
  const body = {
    type: `urn:jetsaga:problem:${slug(error.title)}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    instance: c.req.path,
    requestId: c.get('requestId'),
    ...(error.errors.length > 0 ? { errors: error.errors } : {}),
  };
  const headers: Record<string, string> = { 'Content-Type': PROBLEM_CONTENT_TYPE };
  // RFC 6750: a request without credentials gets the bare challenge, one with a bad token the `invalid_token` code.
  if (error.status === 401) headers['WWW-Authenticate'] = error instanceof InvalidTokenError ? 'Bearer error="invalid_token"' : 'Bearer';
  if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(error.retryAfterSeconds);
  return c.body(JSON.stringify(body), error.status, headers);
}

/**
 * One readiness or diagnosis check: resolves when the dependency answers, rejects with the reason. `signal` aborts when
 * its deadline passes (the check is then reported failed whether or not it honours the signal).
 */
export type Check = (signal: AbortSignal) => Promise<void>;

/** Each check's own deadline: well under the readiness probe's timeout (3 s in the charts), so /readyz always answers. */
export const DEFAULT_CHECK_TIMEOUT_MS = 1000;

export type CheckResult = { ok: boolean; detail: string; ms: number };

/** Runs one check against its deadline; never rejects. */
export async function runCheck(check: Check, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const ms = () => Math.round(performance.now() - started);
  try {
    const running = Promise.resolve().then(() => check(controller.signal));
    running.catch(() => undefined);
    await Promise.race([running, deadline]);
    return { ok: true, detail: 'ok', ms: ms() };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error), ms: ms() };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check at once, each against its own deadline: the slowest one bounds the answer, not their sum. */
export async function runChecks(checks: Record<string, Check>, timeoutMs: number): Promise<Record<string, CheckResult>> {
  const entries = Object.entries(checks);
  const results = await Promise.all(entries.map(([, check]) => runCheck(check, timeoutMs)));
  return Object.fromEntries(entries.map(([name], index) => [name, results[index]!]));
}

/**
 * How a process leaves on SIGTERM (ADR 0055): readiness answers 503 at once, requests are still served for
 * SHUTDOWN_DELAY_MS (the chart's pre-stop sleep usually covers that window, so 0 by default), then the server stops
 * accepting and in-flight requests get up to DRAIN_TIMEOUT_MS to finish before the remaining connections are cut.
 */
export const DRAIN_CONFIG = {
  SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).default(0),
  DRAIN_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
};

/** The `Retry-After` of a 503 for an unavailable database: about what a Postgres restart or failover takes. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

export type HttpAppOptions = {
  log: Logger;
  /**
   * What this pod needs to serve: /readyz answers 503 while any of them fails. All run at once, each within
   * `checkTimeoutMs`.
   */
  readiness?: Record<string, Check>;
  /**
   * Dependencies shown for diagnosis only (`/readyz?verbose`, `/readyz/<name>`): their failure does not take the pod
   * out of its Service, as every pod shares them and none would serve better (ADR 0055).
   */
  dependencies?: Record<string, Check>;
  /** Each check's deadline; default DEFAULT_CHECK_TIMEOUT_MS. */
  checkTimeoutMs?: number;
  /** True once the process drains (SIGTERM): /readyz answers 503 at once and responses close their connections. */
  draining?: () => boolean;
  /** The largest request body accepted (413 above it); default DEFAULT_MAX_BODY_BYTES (body-limit.ts). */
  maxBodyBytes?: number;
  /** Middleware run on every request before any route, probes included (the gateway's headers, CORS, limits). */
  edge?: MiddlewareHandler[];
  /**
   * Bearer-token verification for `/api/*`: every request there needs a valid token, even one that reached the port
   * directly (no trust in the network alone); the probes, the index and the API documents outside `/api` stay public. Unset: no authentication (unit tests of other parts).
   */
  auth?: AuthOptions & { verifier?: TokenVerifier };
};

/**
 * A Hono app with request ids, RED metrics per route, bearer-token authentication of /api/* (when configured), /healthz,
 * /readyz and problem+json for every error.
 */
export function createHttpApp(options: HttpAppOptions): Hono {
  const { log } = options;
  const app = new Hono();
  app.use(requestId());
  app.use(httpMetrics());
  for (const middleware of options.edge ?? []) app.use(middleware);
  app.use(bodyLimit(options.maxBodyBytes));
  if (options.auth) app.use('/api/*', authenticate({ ...options.auth, log }));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  readinessRoutes(app, options);
  app.notFound((c) => problemResponse(c, new NotFoundError(`no route for ${c.req.method} ${c.req.path}`)));
  app.onError((error, c) => {
    if (error instanceof HttpError) return problemResponse(c, error);
    const principal = c.get('principal');
    const who = principal ? { subject: principal.subject, role: principal.role } : {};
    if (databaseUnavailable(error)) {
      // Postgres restarting or out of reach: the client may try again shortly (ADR 0063); a warning, not a bug.
      log.warn({ err: error, requestId: c.get('requestId'), path: c.req.path, ...who }, 'database unavailable');
      return problemResponse(
        c,
        new UnavailableError(
          `the database is unavailable for now; retry after ${DATABASE_RETRY_AFTER_SECONDS} s`,
          DATABASE_RETRY_AFTER_SECONDS,
          { cause: error },
        ),
      );
    }
    log.error({ err: error, requestId: c.get('requestId'), path: c.req.path, ...who }, 'unhandled request error');
    return problemResponse(c, new HttpError(500, 'Internal error', 'the request failed; see the logs with its request id'));
  });
  return app;
}

function readinessRoutes(app: Hono, options: HttpAppOptions): void {
  const required = options.readiness ?? {};
  const diagnosis = options.dependencies ?? {};
  const timeoutMs = options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const draining = options.draining ?? (() => false);
  const summary = (results: Record<string, CheckResult>) =>
    Object.fromEntries(Object.entries(results).map(([name, result]) => [name, result.detail]));
  if (options.draining) {
    // While draining, every response asks its client to open a new connection (to a pod that is not leaving).
    app.use(async (c, next) => {
      await next();
      if (draining()) c.header('Connection', 'close');
    });
  }
  // /readyz: may this pod get traffic? `?verbose` adds each dependency's state and every check's time, for people.
  app.get('/readyz', async (c) => {
    const verbose = c.req.query('verbose') !== undefined;
    if (draining() && !verbose) return c.json({ status: 'draining', checks: {} }, 503);
    const [checks, dependencies] = await Promise.all([runChecks(required, timeoutMs), verbose ? runChecks(diagnosis, timeoutMs) : {}]);
    const ready = !draining() && Object.values(checks).every((result) => result.ok);
    const status = draining() ? 'draining' : ready ? 'ready' : 'not ready';
    const body = verbose ? { status, checks, dependencies, timeoutMs } : { status, checks: summary(checks) };
    return c.json(body, ready ? 200 : 503);
  });
  // /readyz/<name>: one check or dependency alone, 200 when it answers, 503 with its reason when it does not.
  app.get('/readyz/:name', async (c) => {
    const name = c.req.param('name');
    const check = Object.hasOwn(required, name) ? required[name] : Object.hasOwn(diagnosis, name) ? diagnosis[name] : undefined;
    if (!check) {
      const known = [...Object.keys(required), ...Object.keys(diagnosis)].join(', ') || 'none';
      throw new NotFoundError(`no readiness check or dependency named ${name} (known: ${known})`);
    }
    const result = await runCheck(check, timeoutMs);
    return c.json(
      { name, required: Object.hasOwn(required, name), status: result.ok ? 'ok' : 'failing', detail: result.detail, ms: result.ms },
      result.ok ? 200 : 503,
    );
  });
}

function issueToFieldErrors(issue: z.core.$ZodIssue): FieldError[] {
  const base = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, reason: 'unknown field' }));
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return [{ field: base, reason: 'required' }];
  }
  return [{ field: base, reason: issue.message }];
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap(issueToFieldErrors);
}

/** Reads and validates a JSON body; malformed JSON and invalid fields are 400 problems. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await c.req.text();
  let raw: unknown;
  try {
    raw = text.length === 0 ? undefined : JSON.parse(text);
  } catch (error) {
    throw new ValidationError('the body is not valid JSON', [{ field: '', reason: 'malformed JSON' }], { cause: error });
  }
  if (raw === undefined) throw new ValidationError('a JSON body is required', [{ field: '', reason: 'required' }]);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ValidationError('the body has invalid fields', fieldErrors(parsed.error));
  return parsed.data;
}

/** Reads and validates query parameters the same way. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw new ValidationError('the query has invalid parameters', fieldErrors(parsed.error));
  return parsed.data;
}

/** A path id that is not a UUID cannot name anything: it is unknown, hence 404. */
export function uuidParam(c: Context, name: string, what: string): string {
  const value = c.req.param(name) ?? '';
  if (!isUuid(value)) throw new NotFoundError(`${what} ${value} does not exist`);
  return value.toLowerCase();
}

export type RunningServer = {
  port: number;
  /**
   * Stops accepting connections, closes idle keep-alive ones, lets in-flight requests finish and resolves when the
   * last connection is gone; after `drainTimeoutMs` (default: no bound) the ones still open are cut.
   */
  close(drainTimeoutMs?: number): Promise<void>;
  /** Requests being served right now. */
  inFlight(): number;
};

export function startHttpServer(app: Hono, port: number, hostname = '127.0.0.1'): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    let inFlight = 0;
    const server = serve({ fetch: app.fetch, port, hostname }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        inFlight: () => inFlight,
        close: (drainTimeoutMs?: number) =>
          new Promise<void>((done) => {
            let timer: NodeJS.Timeout | undefined;
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            if ('closeIdleConnections' in server) server.closeIdleConnections();
            if (drainTimeoutMs !== undefined && 'closeAllConnections' in server) {
              timer = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
              timer.unref();
            }
          }),
      });
    });
    server.on('request', (_request, response: { once(event: 'close', listener: () => void): void }) => {
      inFlight++;
      response.once('close', () => inFlight--);
    });
    server.once('error', reject);
  });
}

/**
 * Graceful drain (ADR 0055): flips `draining` (readiness 503 at once, responses close their connections), serves on
 * for `delayMs`, then closes the server within `timeoutMs` and resolves.
 */
export async function drainHttpServer(
  server: RunningServer,
  options: {
    delayMs: number;
    timeoutMs: number;
    log: Logger;
    markDraining: () => void;
    /** Once the delay is over, before the server stops accepting: end what would otherwise last to the timeout. */
    afterDelay?: () => void;
  },
): Promise<void> {
  options.markDraining();
  options.log.info(
    { delayMs: options.delayMs, timeoutMs: options.timeoutMs, inFlight: server.inFlight() },
    'draining: not ready, still serving',
  );
  if (options.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
  options.afterDelay?.();
  const started = Date.now();
  const inFlight = server.inFlight();
  await server.close(options.timeoutMs);
  options.log.info({ inFlight, ms: Date.now() - started, cut: Date.now() - started >= options.timeoutMs }, 'HTTP server closed');
}
