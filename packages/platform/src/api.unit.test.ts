import type { MiddlewareHandler } from 'hono';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { assertOwner, openApiDocument, pathId, routes, serviceApi } from './api.js';
import { createHttpApp } from './http.js';
import { createLogger } from './log.js';
import type { Principal, Role } from './principal.js';

const things = routes()
  .add({
    method: 'post',
    path: '/api/things',
    summary: 'Create a thing',
    tags: ['things'],
    roles: ['admin'],
    body: z.strictObject({ name: z.string().min(1), count: z.number().int().min(1) }),
    responses: { 201: { description: 'Created', schema: z.object({ name: z.string(), by: z.string() }) } },
    handler: (c, { body, principal }) => c.json({ name: body.name, by: principal.subject }, 201),
  })
  .add({
    method: 'get',
    path: '/api/things/:id',
    summary: 'A thing of its owner',
    tags: ['things'],
    roles: ['customer', 'admin'],
    ownership: 'A customer reads only their own things.',
    params: z.object({ id: pathId() }),
    query: z.strictObject({ owner: z.guid(), limit: z.coerce.number().int().min(1).default(10) }),
    responses: { 200: { description: 'The thing', schema: z.object({ id: z.string(), limit: z.number() }) } },
    problems: { 404: 'no such thing' },
    handler: (c, { params, query, principal }) => {
      assertOwner(principal, query.owner, `thing ${params.id}`);
      return c.json({ id: params.id, limit: query.limit });
    },
  })
  .add({
    method: 'post',
    path: '/api/things/:id/rebuild',
    summary: 'Rebuild, optionally at a version',
    tags: ['things'],
    roles: ['admin'],
    bodyOptional: true,
    body: z.strictObject({ version: z.number().int().min(1).optional() }),
    responses: { 202: { description: 'Started' } },
    handler: (c, { body }) => c.json({ version: body.version ?? null }, 202),
  });

/** Stands in for the authentication middleware: a test header names the role and subject. */
const fakeAuth: MiddlewareHandler = async (c, next) => {
  const role = c.req.header('x-test-role') as Role | undefined;
  if (role) c.set('principal', { role, subject: c.req.header('x-test-sub') ?? 'someone', token: 't' } satisfies Principal);
  await next();
};

function app() {
  const http = createHttpApp({ log: createLogger('test', 'silent') });
  http.use('/api/*', fakeAuth);
  http.route('/', serviceApi({ title: 'things', version: '1' }, [things]));
  return http;
}

const as = (role: Role | undefined, sub = 'someone') => ({
  'content-type': 'application/json',
  ...(role ? { 'x-test-role': role, 'x-test-sub': sub } : {}),
});

describe('declared routes', () => {
  it('refuses a request without a principal with 401 problem+json, before validating anything', async () => {
    const response = await app().request('/api/things', { method: 'POST', body: '{', headers: as(undefined) });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });

  it('refuses a role the route does not allow with 403, before reading the body', async () => {
    const response = await app().request('/api/things', { method: 'POST', body: '{', headers: as('customer') });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ status: 403, title: 'Forbidden' });
  });

  it('validates the body with the declared schema and reports each field', async () => {
    const response = await app().request('/api/things', { method: 'POST', body: JSON.stringify({ count: 0 }), headers: as('admin') });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: unknown }).errors).toEqual(
      expect.arrayContaining([
        { field: 'name', reason: 'required' },
        { field: 'count', reason: expect.any(String) },
      ]),
    );
  });

  it('hands the handler the parsed input and the principal', async () => {
    const response = await app().request('/api/things', {
      method: 'POST',
      body: JSON.stringify({ name: 'lamp', count: 2 }),
      headers: as('admin', 'root'),
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ name: 'lamp', by: 'root' });
  });

  it('answers 404 for a path parameter its schema refuses, and coerces the query', async () => {
    const owner = '0190a8e2-7c1e-7000-8000-000000000001';
    const bad = await app().request(`/api/things/42?owner=${owner}`, { headers: as('admin') });
    expect(bad.status).toBe(404);
    const good = await app().request(`/api/things/0190A8E2-7C1E-7000-8000-0000000000AA?owner=${owner}&limit=3`, { headers: as('admin') });
    expect(await good.json()).toEqual({ id: '0190a8e2-7c1e-7000-8000-0000000000aa', limit: 3 });
  });

  it("lets a customer reach their own records only (the handler's ownership check)", async () => {
    const owner = '0190a8e2-7c1e-7000-8000-000000000001';
    const path = `/api/things/0190a8e2-7c1e-7000-8000-0000000000aa?owner=${owner}`;
    expect((await app().request(path, { headers: as('customer', owner) })).status).toBe(200);
    const other = await app().request(path, { headers: as('customer', '0190a8e2-7c1e-7000-8000-000000000002') });
    expect(other.status).toBe(403);
    expect(other.headers.get('content-type')).toBe('application/problem+json');
  });

  it('reads an empty body of an optional-body route as {}', async () => {
    const id = '0190a8e2-7c1e-7000-8000-0000000000aa';
    const empty = await app().request(`/api/things/${id}/rebuild`, { method: 'POST', headers: as('admin') });
    expect(await empty.json()).toEqual({ version: null });
    const given = await app().request(`/api/things/${id}/rebuild`, { method: 'POST', body: '{"version":2}', headers: as('admin') });
    expect(await given.json()).toEqual({ version: 2 });
  });
});

describe('the OpenAPI document', () => {
  const document = openApiDocument({ title: 'things', version: '1' }, things.declared);

  it('is served at /openapi.json without a token', async () => {
    const response = await app().request('/openapi.json');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(document);
  });

  it('writes paths in OpenAPI syntax with their parameters, body, responses and problems', () => {
    expect(document.openapi).toBe('3.1.0');
    const get = document.paths['/api/things/{id}']?.get as Record<string, unknown>;
    expect(get.parameters).toEqual([
      expect.objectContaining({ name: 'id', in: 'path', required: true }),
      expect.objectContaining({ name: 'owner', in: 'query', required: true }),
      expect.objectContaining({ name: 'limit', in: 'query', required: false }),
    ]);
    expect(Object.keys(get.responses as object).sort()).toEqual(['200', '400', '401', '403', '404', '503']);
    expect(get['x-roles']).toEqual(['customer', 'admin']);
    const post = document.paths['/api/things']?.post as { requestBody: { content: Record<string, { schema: { required: string[] } }> } };
    expect(post.requestBody.content['application/json']?.schema.required).toEqual(['name', 'count']);
  });

  it('lists every declared route and no other', () => {
    const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`));
    expect(documented.sort()).toEqual(['get /api/things/{id}', 'post /api/things', 'post /api/things/{id}/rebuild']);
  });
});
