import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { isUuid, uuidv7 } from '@jetsaga/events';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { type AuthOptions, authenticate, type TokenVerifier } from './auth.js';
import { bodyLimit } from './body-limit.js';
import { type FieldError, HttpError, InvalidTokenError, NotFoundError, ValidationError } from './errors.js';
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
  return c.body(JSON.stringify(body), error.status, headers);
}

export type HttpAppOptions = {
  log: Logger;
  /** Named readiness checks; /readyz answers 503 while any of them fails. */
  readiness?: Record<string, () => Promise<void>>;
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
  app.get('/readyz', async (c) => {
    const checks: Record<string, string> = {};
    let ready = true;
    for (const [name, check] of Object.entries(options.readiness ?? {})) {
      try {
        await check();
        checks[name] = 'ok';
      } catch (error) {
        ready = false;
        checks[name] = error instanceof Error ? error.message : String(error);
      }
    }
    return c.json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503);
  });
  app.notFound((c) => problemResponse(c, new NotFoundError(`no route for ${c.req.method} ${c.req.path}`)));
  app.onError((error, c) => {
    if (error instanceof HttpError) return problemResponse(c, error);
    const principal = c.get('principal');
    const who = principal ? { subject: principal.subject, role: principal.role } : {};
    log.error({ err: error, requestId: c.get('requestId'), path: c.req.path, ...who }, 'unhandled request error');
    return problemResponse(c, new HttpError(500, 'Internal error', 'the request failed; see the logs with its request id'));
  });
  return app;
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

export type RunningServer = { port: number; close(): Promise<void> };

export function startHttpServer(app: Hono, port: number, hostname = '127.0.0.1'): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ('closeIdleConnections' in server) server.closeIdleConnections();
          }),
      });
    });
    server.once('error', reject);
  });
}
