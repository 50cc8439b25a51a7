import { ForbiddenError } from '@jetsaga/platform';
import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { isConsolePath } from '../console.js';

/**
 * Security headers on every answer of the gateway. The API answers JSON only: its Content-Security-Policy allows
 * nothing at all (a JSON document opened in a browser runs nothing, loads nothing, cannot be framed). The API
 * reference at `/docs` is a page served from the gateway's own files: it may load scripts, styles, images and fonts
 * from the gateway itself and fetch `/openapi.json`, inline styles included (the reference's renderer sets them),
 * and nothing from anywhere else.
 */
const COMMON = {
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  xContentTypeOptions: true,
  crossOriginResourcePolicy: 'same-origin',
  crossOriginOpenerPolicy: 'same-origin',
  strictTransportSecurity: 'max-age=31536000; includeSubDomains',
} as const;

export const API_CSP = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
};

export const DOCS_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
};

/**
 * The console (web/, served at /): scripts, styles and data from the gateway only; inline styles because the sequence
 * diagrams it draws (Mermaid) carry their own; `connect-src 'self'` is the API and its event stream; links to a
 * trace or dashboard elsewhere are navigations, which a CSP does not restrict.
 */
export const CONSOLE_CSP = { ...DOCS_CSP, formAction: ["'self'"] };

/** Paths of the interactive reference (its page and its assets). */
export const isDocs = (path: string) => path === '/docs' || path.startsWith('/docs/');

export function securityHeaders(): MiddlewareHandler {
  const api = secureHeaders({ ...COMMON, contentSecurityPolicy: API_CSP });
  const docs = secureHeaders({ ...COMMON, contentSecurityPolicy: DOCS_CSP });
  const web = secureHeaders({ ...COMMON, contentSecurityPolicy: CONSOLE_CSP });
  return function securityHeadersMiddleware(c, next) {
    const path = c.req.path;
    return (isDocs(path) ? docs : isConsolePath(path) ? web : api)(c, next);
  };
}

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const ALLOWED_HEADERS = 'authorization, content-type, x-request-id, traceparent, tracestate';
/** What a browser script of an allowed origin may read of an answer besides the basic headers. */
const EXPOSED_HEADERS = 'ratelimit, ratelimit-policy, retry-after, x-request-id, location';

/**
 * CORS with an allow-list of origins (`GATEWAY_CORS_ORIGINS`; none by default: no browser page of another origin may
 * call the API). An allowed origin's preflight is answered 204 with what it may send; a foreign origin gets the
 * same 204 with no `Access-Control-Allow-*` header at all, so its browser refuses, and its simple requests are served
 * without any either (the browser hides the answer from the page). A request that could change something (any
 * method but GET, HEAD and OPTIONS) from a foreign origin is refused with 403 before it goes anywhere: a form or a
 * `text/plain` POST needs no preflight, and the browser hiding the answer would not undo what it did. The gateway's
 * own origin (the `/docs` page trying a route) is not foreign. No credentials: the API takes bearer tokens, never
 * cookies.
 */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}

export function cors(origins: readonly string[]): MiddlewareHandler {
  const allowed = new Set(origins.map((origin) => origin.replace(/\/$/, '').toLowerCase()));
  return async function corsMiddleware(c, next) {
    const origin = c.req.header('origin');
    if (origin === undefined) return next();
    const allow = allowed.has(origin.toLowerCase());
    const sameOrigin = hostOf(origin) === c.req.header('host')?.toLowerCase();
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined) {
      const headers: Record<string, string> = { Vary: 'Origin' };
      if (allow) {
        Object.assign(headers, {
          'Access-Control-Allow-Origin': origin,
          'Access-Control-Allow-Methods': ALLOWED_METHODS,
          'Access-Control-Allow-Headers': ALLOWED_HEADERS,
          'Access-Control-Max-Age': '600',
        });
      }
      return c.body(null, 204, headers);
    }
    if (!allow && !sameOrigin && !SAFE_METHODS.has(c.req.method)) {
      c.header('Vary', 'Origin');
      throw new ForbiddenError(`requests from the origin ${origin} are not allowed (GATEWAY_CORS_ORIGINS); nothing was changed`);
    }
    await next();
    c.res.headers.append('Vary', 'Origin');
    if (allow) {
      c.res.headers.set('Access-Control-Allow-Origin', origin);
      c.res.headers.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
  };
}
