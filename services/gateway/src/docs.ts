import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  BEARER_SCHEME,
  type DeclaredRoute,
  type Logger,
  OPENAPI_PATH,
  type OpenApiDocument,
  openApiDocument,
  problemSchema,
  UpstreamError,
} from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import { asyncApiDocument } from './asyncapi.js';
import { type Upstream, upstreamFor } from './proxy.js';

type Operation = Record<string, unknown>;

/** A concrete path for a templated one (`/api/orders/{id}` -> `/api/orders/x`): what ROUTES matches by prefix. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x');

export type MergedDocument = OpenApiDocument & { 'x-services': Record<string, string> };

/**
 * The gateway's document: each service's operations that the ROUTES table sends to that service (an operation it
 * routes elsewhere would be unreachable through the gateway, so it is left out, and `dropped` names it).
 */
export function mergeDocuments(
  documents: Partial<Record<Upstream, OpenApiDocument>>,
  own?: OpenApiDocument,
): { document: MergedDocument; dropped: string[] } {
  const paths: OpenApiDocument['paths'] = {};
  const tags = new Set<string>();
  const services: Record<string, string> = {};
  const dropped: string[] = [];
  // The gateway's own routes (the event stream): answered by the gateway, never forwarded.
  if (own) {
    services.gateway = own.info.title;
    for (const [path, methods] of Object.entries(own.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        (paths[path] ??= {})[method] = { ...(operation as Operation), 'x-service': 'gateway' };
        for (const tag of ((operation as Operation).tags ?? []) as string[]) tags.add(tag);
      }
    }
  }
  for (const [service, document] of Object.entries(documents) as [Upstream, OpenApiDocument][]) {
    services[service] = document.info.title;
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        if (upstreamFor(method.toUpperCase(), concrete(path)) !== service) {
          dropped.push(`${method.toUpperCase()} ${path} (${service})`);
          continue;
        }
        (paths[path] ??= {})[method] = { ...(operation as Operation), 'x-service': service };
        for (const tag of ((operation as Operation).tags ?? []) as string[]) tags.add(tag);
      }
    }
  }
  const { $schema: _dialect, ...problem } = z.toJSONSchema(problemSchema, { io: 'output' }) as Record<string, unknown>;
  return {
    document: {
      openapi: '3.1.0',
      info: {
        title: 'jetsaga',
        version: '0.1.0',
        description:
          'Every route of every service, through the gateway. Each operation lists the roles it admits (`x-roles`) and the service behind it (`x-service`); a token comes from the identity provider (`npm run token` in development).',
      },
      tags: [...tags].sort().map((name) => ({ name })),
      paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
      components: { schemas: { Problem: problem }, securitySchemes: { bearer: BEARER_SCHEME } },
      security: [{ bearer: [] }],
      'x-services': services,
    },
    dropped,
  };
}

const DOCS_TIMEOUT_MS = 3000;

async function fetchDocument(service: string, baseUrl: string): Promise<OpenApiDocument | undefined> {
  let response: Response;
  try {
    response = await fetch(new URL(OPENAPI_PATH, baseUrl), { signal: AbortSignal.timeout(DOCS_TIMEOUT_MS) });
  } catch (error) {
    throw new UpstreamError(`the ${service} service did not give its API document`, { cause: error });
  }
  // A service that publishes no document yet is left out rather than taking the others' down with it.
  if (response.status === 404) return undefined;
  if (!response.ok) throw new UpstreamError(`the ${service} service answered ${response.status} for its API document`);
  return (await response.json()) as OpenApiDocument;
}

const SWAGGER_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>jetsaga API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" />
  </head>
  <body>
    <main id="swagger-ui"></main>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

/** No inline script (the page's CSP allows scripts from the gateway only); no validator badge (it calls out). */
const INIT = `window.ui = SwaggerUIBundle({
  url: '${OPENAPI_PATH}',
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: true,
  tryItOutEnabled: false,
  persistAuthorization: false,
});
`;

export type DocsOptions = { upstreams: Record<Upstream, string>; log: Logger; own?: () => readonly DeclaredRoute[] };

/**
 * The published API, outside /api/* and without a token: the merged OpenAPI 3.1 document at /openapi.json, the
 * interactive reference at /docs (Swagger UI from the swagger-ui-dist package's files, served here: the browser
 * fetches nothing from anywhere else), and AsyncAPI 3 for the events at /asyncapi.json.
 */
export function docsRoutes({ upstreams, log, own }: DocsOptions): Hono {
  const app = new Hono();
  const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const files = new Map(Object.entries(SWAGGER_FILES).map(([name, type]) => [name, { body: readFileSync(join(dist, name)), type }]));
  const asyncApi = asyncApiDocument();
  let reported = '';

  app.get(OPENAPI_PATH, async (c) => {
    const entries = await Promise.all(
      (Object.entries(upstreams) as [Upstream, string][]).map(
        async ([service, url]) => [service, await fetchDocument(service, url)] as const,
      ),
    );
    const found = Object.fromEntries(entries.filter(([, document]) => document !== undefined));
    const { document, dropped } = mergeDocuments(found, own ? openApiDocument({ title: 'gateway', version: '0.1.0' }, own()) : undefined);
    const missing = entries.filter(([, document]) => !document).map(([service]) => service);
    const problems = JSON.stringify({ dropped, missing });
    if ((dropped.length > 0 || missing.length > 0) && problems !== reported) {
      reported = problems;
      log.warn({ dropped, missing }, 'operations left out of the API document');
    }
    return c.json(document);
  });
  app.get('/asyncapi.json', (c) => c.json(asyncApi));
  app.get('/docs', (c) => c.html(PAGE));
  app.get('/docs/', (c) => c.redirect('/docs', 301));
  app.get('/docs/init.js', (c) => c.body(INIT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }));
  app.get('/docs/:file', (c) => {
    const file = files.get(c.req.param('file'));
    if (!file) return c.notFound();
    return c.body(new Uint8Array(file.body), 200, { 'Content-Type': file.type, 'Cache-Control': 'public, max-age=3600' });
  });
  return app;
}
