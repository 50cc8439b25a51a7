import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConflictError } from './errors.js';
import { createHttpApp, readJson, runChecks } from './http.js';
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

  it('answers 503 with Retry-After, not 500, when the database is unavailable, and still 500 for a wrong statement', async () => {
    const http = createHttpApp({ log: createLogger('test', 'silent') });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const syntax = Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' });
    http.get('/down', () => {
      throw new AggregateError([refused, refused], 'connect failed');
    });
    http.get('/wrong', () => {
      throw syntax;
    });
    const down = await http.request('/down');
    expect(down.status).toBe(503);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await down.json()).toMatchObject({ status: 503, title: 'Service unavailable' });
    expect((await http.request('/wrong')).status).toBe(500);
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

/** A check that answers only when `open()` is called (or fails with `fail(reason)`), and counts its calls. */
function gate() {
  let open: () => void = () => undefined;
  let fail: (reason: string) => void = () => undefined;
  const state = { calls: 0, aborted: 0 };
  const check = (signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      state.calls++;
      open = resolve;
      fail = (reason) => reject(new Error(reason));
      signal.addEventListener('abort', () => state.aborted++);
    });
  return { check, state, open: () => open(), fail: (reason: string) => fail(reason) };
}

const silent = createLogger('test', 'silent');

describe('readiness', () => {
  it('runs every check at once: all are started before any answers', async () => {
    const a = gate();
    const b = gate();
    const c = gate();
    const running = runChecks({ a: a.check, b: b.check, c: c.check }, 5000);
    await Promise.resolve();
    await Promise.resolve();
    expect([a.state.calls, b.state.calls, c.state.calls]).toEqual([1, 1, 1]);
    a.open();
    b.fail('refused');
    c.open();
    const results = await running;
    expect(Object.fromEntries(Object.entries(results).map(([name, result]) => [name, [result.ok, result.detail]]))).toEqual({
      a: [true, 'ok'],
      b: [false, 'refused'],
      c: [true, 'ok'],
    });
  });

  it('gives each check its own deadline and aborts it there; one hung check does not hold the answer', async () => {
    const hung = gate();
    const http = createHttpApp({ log: silent, readiness: { hung: hung.check, fine: async () => undefined }, checkTimeoutMs: 50 });
    const started = performance.now();
    const response = await http.request('/readyz');
    const elapsed = performance.now() - started;
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'not ready', checks: { hung: 'no answer within 50 ms', fine: 'ok' } });
    expect(hung.state.aborted).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1000);
  });

  it('answers within one deadline however many checks hang (not their sum)', async () => {
    const hung = Object.fromEntries(Array.from({ length: 9 }, (_, index) => [`upstream-${index}`, gate().check]));
    const http = createHttpApp({ log: silent, dependencies: hung, checkTimeoutMs: 100 });
    const started = performance.now();
    const response = await http.request('/readyz?verbose');
    const elapsed = performance.now() - started;
    // Dependencies never make the pod unready: nine hung ones leave it ready.
    expect(response.status).toBe(200);
    const body = (await response.json()) as { dependencies: Record<string, { ok: boolean; detail: string }> };
    expect(Object.values(body.dependencies).map((result) => result.detail)).toEqual(Array(9).fill('no answer within 100 ms'));
    expect(elapsed).toBeLessThan(9 * 100);
  });

  it('keeps dependencies out of /readyz, and shows each of them at /readyz?verbose and /readyz/<name>', async () => {
    const http = createHttpApp({
      log: silent,
      readiness: { postgres: async () => undefined },
      dependencies: {
        nats: async () => undefined,
        payment: async () => {
          throw new Error('payment answered 503');
        },
      },
    });
    const ready = await http.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok' } });

    const verbose = await http.request('/readyz?verbose');
    expect(verbose.status).toBe(200);
    expect(await verbose.json()).toMatchObject({
      status: 'ready',
      checks: { postgres: { ok: true, detail: 'ok' } },
      dependencies: { nats: { ok: true, detail: 'ok' }, payment: { ok: false, detail: 'payment answered 503' } },
    });

    const payment = await http.request('/readyz/payment');
    expect(payment.status).toBe(503);
    expect(await payment.json()).toMatchObject({ name: 'payment', required: false, status: 'failing', detail: 'payment answered 503' });
    const postgres = await http.request('/readyz/postgres');
    expect(postgres.status).toBe(200);
    expect(await postgres.json()).toMatchObject({ name: 'postgres', required: true, status: 'ok' });

    const unknown = await http.request('/readyz/redis');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    expect(((await unknown.json()) as { detail: string }).detail).toContain('known: postgres, nats, payment');
  });

  it('answers 503 at once while draining, without running the checks, and asks clients to close the connection', async () => {
    let draining = false;
    let calls = 0;
    const http = createHttpApp({
      log: silent,
      draining: () => draining,
      readiness: {
        postgres: async () => {
          calls++;
        },
      },
    });
    http.get('/work', (c) => c.json({ done: true }));
    expect((await http.request('/readyz')).status).toBe(200);
    expect((await http.request('/work')).headers.get('connection')).toBeNull();
    expect(calls).toBe(1);
    draining = true;
    const response = await http.request('/readyz');
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'draining', checks: {} });
    expect(calls).toBe(1);
    // Requests are still served while draining; their connections are not kept alive.
    const work = await http.request('/work');
    expect(work.status).toBe(200);
    expect(work.headers.get('connection')).toBe('close');
  });
});
