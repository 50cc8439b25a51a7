import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { ForbiddenError, HttpError } from './errors.js';
import { fieldErrors, readJson, readQuery } from './http.js';
import { type Principal, principalOf, ROLES, type Role } from './principal.js';

/**
 * Routes declared once: the same declaration validates the request, checks the caller's role before the handler runs,
 * and is the route's OpenAPI 3.1 operation (docs/adr/0042-routes-declared-once.md):
 *
 *   const api = routes();
 *   api.add({ method: 'get', path: '/api/carts/:id', summary: 'A cart', tags: ['carts'], roles: ['customer', 'admin'],
 *     params: z.object({ id: pathId() }), responses: { 200: { description: 'The cart', schema: cartSchema } },
 *     problems: { 404: 'no such cart' }, handler: async (c, { params, principal }) => ... });
 */

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Every authenticated role: product catalogue reads and the like. */
export const ANY_ROLE: readonly Role[] = ROLES;

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

export type ResponseSpec = {
  description: string;
  /** The JSON body; left out for a response without one (204). */
  schema?: z.ZodType;
  /** `application/json` unless said otherwise (a Mermaid diagram is `text/plain`). */
  contentType?: string;
};

/** Problem statuses a route can answer besides the ones every route gets (400 for bad input, 401, 403, 503). */
export type ProblemStatus = 404 | 409 | 413 | 422 | 429 | 502 | 503 | 504;

export type RouteInput<P, Q, B> = { params: Parsed<P>; query: Parsed<Q>; body: Parsed<B>; principal: Principal };

export type RouteSpec<P extends z.ZodType | undefined, Q extends z.ZodType | undefined, B extends z.ZodType | undefined> = {
  method: Method;
  /** Hono's syntax (`/api/carts/:id`); the document says `/api/carts/{id}`. */
  path: string;
  summary: string;
  description?: string;
  tags: readonly string[];
  /** Who may call it; any other role is a 403 before the handler runs, no token a 401. */
  roles: readonly Role[];
  /** How a customer's access is narrowed to their own records, for the document (the handler does the check). */
  ownership?: string;
  operationId?: string;
  /** A z.object of the path parameters; a value that fails it names nothing, hence 404. */
  params?: P;
  query?: Q;
  body?: B;
  /** An empty body is read as `{}` (a rebuild with no options). */
  bodyOptional?: boolean;
  responses: Readonly<Record<number, ResponseSpec>>;
  problems?: Readonly<Partial<Record<ProblemStatus, string>>>;
  handler: (c: Context, input: RouteInput<P, Q, B>) => Response | Promise<Response>;
};

/** A declared route, as the document and the route tests read it. */
export type DeclaredRoute = Omit<RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>, 'handler'>;

/** A path id: any UUID, compared lower-case (what `uuidParam` did). */
export const pathId = () => z.guid().transform((value) => value.toLowerCase());

/** A customer reaches only their own records; agents and admins pass (the route's roles already admitted them). */
export function assertOwner(principal: Principal, customerId: string, what: string): void {
  if (principal.role === 'customer' && principal.subject.toLowerCase() !== customerId.toLowerCase()) {
    throw new ForbiddenError(`${what} belongs to another customer`);
  }
}

/** The problem+json body every error answers with (RFC 9457). */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
  })
  .meta({ description: 'RFC 9457 problem details; `errors` names each invalid field and why.' });

function parseParams(c: Context, schema: z.ZodType): unknown {
  const parsed = schema.safeParse(c.req.param());
  if (parsed.success) return parsed.data;
  const errors = fieldErrors(parsed.error);
  const named = errors.map((error) => `${error.field} ${c.req.param(error.field) ?? ''}`.trim()).join(', ');
  throw new HttpError(404, 'Not found', `${named} does not exist`, errors);
}

async function parseBody(c: Context, spec: DeclaredRoute): Promise<unknown> {
  if (!spec.body) return undefined;
  // Hono keeps the text it read, so readJson reads the same body again.
  if (spec.bodyOptional && (await c.req.text()).length === 0) {
    const parsed = spec.body.safeParse({});
    if (!parsed.success) throw new HttpError(400, 'Invalid request', 'the body has invalid fields', fieldErrors(parsed.error));
    return parsed.data;
  }
  return readJson(c, spec.body);
}

/** The routes of one slice of a service; `serviceApi` mounts several and serves their document. */
export class Routes {
  readonly app = new Hono();
  readonly declared: DeclaredRoute[] = [];

  add<
    P extends z.ZodType | undefined = undefined,
    Q extends z.ZodType | undefined = undefined,
    B extends z.ZodType | undefined = undefined,
  >(spec: RouteSpec<P, Q, B>): this {
    const { handler, ...declared } = spec;
    const roles = new Set<Role>(spec.roles);
    this.declared.push(declared);
    this.app.on(spec.method.toUpperCase(), spec.path, async function declaredRoute(c) {
      const principal = principalOf(c);
      if (!roles.has(principal.role))
        throw new ForbiddenError(`the ${principal.role} role may not ${spec.method.toUpperCase()} ${spec.path}`);
      const params = spec.params ? parseParams(c, spec.params) : undefined;
      const query = spec.query ? readQuery(c, spec.query) : undefined;
      const body = await parseBody(c, declared);
      return handler(c, { params, query, body, principal } as RouteInput<P, Q, B>);
    });
    return this;
  }
}

export function routes(): Routes {
  return new Routes();
}

export type ApiInfo = { title: string; version: string; description?: string };

/** `/api/carts/:id` as OpenAPI writes it: `/api/carts/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input');
  const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

function problemResponse(description: string): JsonSchema {
  return { description, content: { 'application/problem+json': { schema: PROBLEM_REF } } };
}

const ROLE_NAMES: Record<Role, string> = { customer: 'customer', agent: 'agent', admin: 'admin' };

function operationId(route: DeclaredRoute): string {
  if (route.operationId) return route.operationId;
  const words = route.path
    .split('/')
    .filter((part) => part && part !== 'api')
    .map((part) => part.replace(/^:/, 'by-'))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return [route.method, ...words].map((word, index) => (index === 0 ? word : word[0]!.toUpperCase() + word.slice(1))).join('');
}

/** The OpenAPI 3.1 operation of one declared route. */
export function openApiOperation(route: DeclaredRoute): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? { content: { [response.contentType ?? 'application/json']: { schema: jsonSchema(response.schema, 'output') } } }
        : {}),
    };
  }
  if (route.params || route.query || route.body)
    responses['400'] = problemResponse('The request has invalid fields (each named in `errors`).');
  responses['401'] = problemResponse('No bearer token, or one that could not be verified.');
  responses['403'] = problemResponse(
    route.ownership
      ? `A role other than ${route.roles.join(', ')}, or a customer who is not the owner.`
      : `A role other than ${route.roles.join(', ')}.`,
  );
  if (route.params && !route.problems?.[404]) responses['404'] = problemResponse('A path parameter names nothing.');
  responses['503'] = problemResponse('A dependency (the database) is unavailable for now; `Retry-After` says when to send it again.');
  for (const [status, description] of Object.entries(route.problems ?? {})) responses[status] = problemResponse(description as string);
  const access = `Roles: ${route.roles.map((role) => ROLE_NAMES[role]).join(', ')}.${route.ownership ? ` ${route.ownership}` : ''}`;
  return {
    operationId: operationId(route),
    summary: route.summary,
    description: route.description ? `${route.description}\n\n${access}` : access,
    tags: [...route.tags],
    security: [{ bearer: [] }],
    'x-roles': [...route.roles],
    ...(route.params || route.query ? { parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')] } : {}),
    ...(route.body
      ? { requestBody: { required: !route.bodyOptional, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }
      : {}),
    responses,
  };
}

export type OpenApiDocument = {
  openapi: '3.1.0';
  info: ApiInfo;
  tags: { name: string }[];
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
  security: Record<string, string[]>[];
};

export const BEARER_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description: 'An OAuth2/OIDC access token of the configured issuer; its role claim is customer, agent or admin.',
};

/** The OpenAPI 3.1 document of these routes. */
export function openApiDocument(info: ApiInfo, declared: readonly DeclaredRoute[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of declared) {
    const path = (paths[openApiPath(route.path)] ??= {});
    if (path[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is declared twice`);
    path[route.method] = openApiOperation(route);
  }
  const tags = [...new Set(declared.flatMap((route) => route.tags))].sort().map((name) => ({ name }));
  return {
    openapi: '3.1.0',
    info,
    tags,
    paths,
    components: { schemas: { Problem: jsonSchema(problemSchema, 'output') }, securitySchemes: { bearer: BEARER_SCHEME } },
    security: [{ bearer: [] }],
  };
}

/** The path the services and the gateway serve their document at, outside /api/* and without a token. */
export const OPENAPI_PATH = '/openapi.json';

/** A service's API: every slice's routes, and their OpenAPI document at /openapi.json. */
export function serviceApi(info: ApiInfo, slices: readonly Routes[]): Hono & { declared: readonly DeclaredRoute[] } {
  const app = new Hono();
  const declared = slices.flatMap((slice) => slice.declared);
  const document = openApiDocument(info, declared);
  app.get(OPENAPI_PATH, (c) => c.json(document));
  for (const slice of slices) app.route('/', slice.app);
  return Object.assign(app, { declared });
}

/** `METHOD /path` of every /api/* route a Hono app answers, and of every operation a document lists. */
export function routeDrift(app: Hono, document: Pick<OpenApiDocument, 'paths'>): { undocumented: string[]; unrouted: string[] } {
  const served = new Set(
    app.routes
      .filter((route) => route.path.startsWith('/api/') && route.method !== 'ALL')
      .map((route) => `${route.method.toUpperCase()} ${openApiPath(route.path)}`),
  );
  const documented = new Set(
    Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`)),
  );
  return {
    undocumented: [...served].filter((route) => !documented.has(route)).sort(),
    unrouted: [...documented].filter((route) => !served.has(route)).sort(),
  };
}
