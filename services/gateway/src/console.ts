import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Logger, NotFoundError, readJson, UpstreamError } from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';

/** Where `npm run build:web` writes the console (web/dist), from this file's compiled place (services/gateway/dist). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../web/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Paths that stay the gateway's own (API, documents, probes): never the console's page. */
const NOT_CONSOLE = ['/api/', '/docs', '/openapi.json', '/asyncapi.json', '/healthz', '/readyz'];

/** Whether a path is one of the console's (its page, client routes and assets): what the console's CSP covers. */
export const isConsolePath = (path: string) => !NOT_CONSOLE.some((prefix) => path === prefix || path.startsWith(prefix));

export type ConsoleOptions = {
  /** The built console (web/dist). Missing: `/` answers the gateway's index as JSON, as before the console. */
  dir: string;
  log: Logger;
  /** The development issuer's token endpoint (`npm start` and the test systems only): the sign-in page's role picker. */
  devTokenUrl?: string | undefined;
  /** Base URLs the console links a saga to (its trace, its dashboard); the console's settings may change them. */
  links: { jaeger?: string | undefined; grafana?: string | undefined };
  /** The gateway's index for API clients (`GET /` with `Accept: application/json`, or without a built console). */
  index: () => unknown;
};

/** The gateway's settings for the console (spread into its configuration schema). */
export const CONSOLE_CONFIG = {
  GATEWAY_CONSOLE_DIR: z.string().min(1).default(DEFAULT_CONSOLE_DIR),
  GATEWAY_DEV_TOKEN_URL: z.url().optional(),
  GATEWAY_CONSOLE_JAEGER_URL: z.url().optional(),
  GATEWAY_CONSOLE_GRAFANA_URL: z.url().optional(),
};

const devTokenBody = z.strictObject({
  role: z.enum(['customer', 'agent', 'admin']),
  sub: z
    .string()
    .regex(/^[A-Za-z0-9._:@-]{1,128}$/, 'letters, digits and . _ : @ - only')
    .optional(),
});

/**
 * The console (web/), served on the API's port: hashed assets under `/assets/` cached for a year (their names change
 * with their content), everything else revalidated, and any other path a client route of the single-page app
 * (`index.html`). Its settings come from `/console/config`; in development, `/console/dev-token` obtains a token from the
 * development issuer (absent when no such issuer is configured, so never in a real deployment).
 */
export function consoleRoutes(options: ConsoleOptions): Hono {
  const app = new Hono();
  const root = normalize(options.dir);
  const built = existsSync(join(root, 'index.html'));
  if (!built) options.log.warn({ dir: root }, 'no built console (npm run build:web): / answers the API index only');
  const page = built ? readFileSync(join(root, 'index.html')) : undefined;

  app.get('/console/config', (c) =>
    c.json({
      devSignIn: options.devTokenUrl !== undefined,
      links: { jaeger: options.links.jaeger ?? null, grafana: options.links.grafana ?? null },
    }),
  );

  app.post('/console/dev-token', async (c) => {
    if (!options.devTokenUrl) throw new NotFoundError('no development sign-in here: paste a token from your identity provider');
    const body = await readJson(c, devTokenBody);
    let response: Response;
    try {
      response = await fetch(options.devTokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(3000),
      });
    } catch (error) {
      throw new UpstreamError('the development issuer did not answer', { cause: error });
    }
    if (!response.ok) throw new UpstreamError(`the development issuer answered ${response.status}`);
    return c.json(await response.json(), 200, { 'Cache-Control': 'no-store' });
  });

  app.get('*', (c, next) => {
    const path = c.req.path;
    if (!isConsolePath(path) || path.startsWith('/console/')) return next();
    if (!page) return path === '/' ? c.json(options.index()) : next();
    if (path === '/' && (c.req.header('accept') ?? '').startsWith('application/json')) return c.json(options.index());
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return next();
    }
    const file = normalize(join(root, decoded));
    if (file.startsWith(root + sep) && extname(file) !== '' && isFile(file)) {
      const immutable = path.startsWith('/assets/');
      return c.body(new Uint8Array(readFileSync(file)), 200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
    }
    // A missing asset is a 404, not the page: a stale tab asking for an old bundle must not get HTML as JavaScript.
    if (path.startsWith('/assets/') || extname(path) !== '') return next();
    return c.body(new Uint8Array(page), 200, { 'Content-Type': TYPES['.html']!, 'Cache-Control': 'no-cache' });
  });
  return app;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
