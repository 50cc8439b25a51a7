import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConflictError } from './errors.js';
import { createHttpApp, readJson } from './http.js';
import { createLogger } from './log.js';

function app() {
  const http = createHttpApp({ log: createLogger('test', 'silent') });
  http.post('/things', async (c) => {
    const body = await readJson(c, z.strictObject({ name: z.string().min(1), count: z.number().int().min(1) }));
    if (body.name === 'taken') throw new ConflictError('the name is taken');
    return c.json(body, 201);
  });
  http.get('/boom', () => {
    throw new Error('secret internals');
  });
  return http;
}

const post = (body: string) => app().request('/things', { method: 'POST', body, headers: { 'content-type': 'application/json' } });

describe('problem+json', () => {
  it('reports malformed JSON as 400', async () => {
    const response = await post('{"name":');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 400, errors: [{ field: '', reason: 'malformed JSON' }] });
  });

  it('names each invalid, missing and unknown field', async () => {
    const response = await post(JSON.stringify({ count: 0, extra: true }));
    const problem = (await response.json()) as { errors: unknown };
    expect(response.status).toBe(400);
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        { field: 'name', reason: 'required' },
        { field: 'count', reason: expect.stringContaining('>=1') },
        { field: 'extra', reason: 'unknown field' },
      ]),
    );
  });

  it('maps domain errors to their status, and carries the request id', async () => {
    const response = await app().request('/things', {
      method: 'POST',
      body: JSON.stringify({ name: 'taken', count: 1 }),
      headers: { 'x-request-id': 'req-42' },
    });
    expect(response.status).toBe(409);
    expect(response.headers.get('x-request-id')).toBe('req-42');
    expect(await response.json()).toMatchObject({
      title: 'Conflict',
      detail: 'the name is taken',
      requestId: 'req-42',
      instance: '/things',
    });
  });

  it('hides internals of unexpected errors and answers unknown routes with 404', async () => {
    const boom = await app().request('/boom');
    expect(boom.status).toBe(500);
    expect(JSON.stringify(await boom.json())).not.toContain('secret');
    const missing = await app().request('/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
  });

  it('answers health and readiness', async () => {
    expect((await app().request('/healthz')).status).toBe(200);
    const failing = createHttpApp({
      log: createLogger('test', 'silent'),
      readiness: {
        nats: async () => {
          throw new Error('down');
        },
      },
    });
    const ready = await failing.request('/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not ready', checks: { nats: 'down' } });
  });
});
