import { createHttpApp, createLogger, openApiDocument, type Principal, type Role, routeDrift, type ServiceDeps } from '@jetsaga/platform';
import type { MiddlewareHandler } from 'hono';
import { describe, expect, it } from 'vitest';
import { supportApi } from './api.js';
import { DEFAULT_RESPONSE_DEADLINES } from './complaints/deadlines.js';

// The routes below answer before touching any dependency (roles, validation), so none is needed.
const deps = { deadlines: DEFAULT_RESPONSE_DEADLINES } as unknown as ServiceDeps & { deadlines: typeof DEFAULT_RESPONSE_DEADLINES };
const api = supportApi(deps);

/** Stands in for the authentication middleware: a test header names the role and subject. */
const fakeAuth: MiddlewareHandler = async (c, next) => {
  const role = c.req.header('x-test-role') as Role | undefined;
  if (role) c.set('principal', { role, subject: c.req.header('x-test-sub') ?? 'someone', token: 't' } satisfies Principal);
  await next();
};

function app() {
  const http = createHttpApp({ log: createLogger('test', 'silent') });
  http.use('/api/*', fakeAuth);
  http.route('/', api);
  return http;
}

const complaintId = '0190b000-0000-7000-8000-000000000301';
const customerId = '0190b000-0000-7000-8000-000000000302';
const as = (role: Role, sub = customerId) => ({ 'x-test-role': role, 'x-test-sub': sub, 'content-type': 'application/json' });

describe('support API', () => {
  it('documents every route it serves, and serves every route it documents', () => {
    expect(routeDrift(api, openApiDocument({ title: 'support', version: '0' }, api.declared))).toEqual({ undocumented: [], unrouted: [] });
  });

  it('leaves the desk steps to agents and admins, and refuses anonymous callers', async () => {
    for (const step of ['assign', 'start', 'resolve', 'close']) {
      const response = await app().request(`/api/complaints/${complaintId}/${step}`, {
        method: 'POST',
        headers: as('customer'),
        body: '{}',
      });
      expect(response.status, step).toBe(403);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    }
    expect((await app().request('/api/complaints')).status).toBe(401);
  });

  it('lets a customer open complaints for themselves only', async () => {
    const body = JSON.stringify({
      customerId: '0190b000-0000-7000-8000-000000000399',
      title: 't',
      description: 'd',
      priority: 'LOW',
      category: 'c',
    });
    const response = await app().request('/api/complaints', { method: 'POST', headers: as('customer'), body });
    expect(response.status).toBe(403);
    const listed = await app().request('/api/complaints?customerId=0190b000-0000-7000-8000-000000000399', { headers: as('customer') });
    expect(listed.status).toBe(403);
  });

  it('names the roles of each operation in its document', async () => {
    const document = (await (await app().request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { 'x-roles': string[] }>>;
    };
    expect(document.paths['/api/complaints/{id}/resolve']?.post?.['x-roles']).toEqual(['agent', 'admin']);
    expect(document.paths['/api/complaints']?.post?.['x-roles']).toEqual(['customer', 'agent', 'admin']);
  });
});
