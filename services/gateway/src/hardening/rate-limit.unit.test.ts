import { createHttpApp, createLogger, type Principal } from '@jetsaga/platform';
import type { MiddlewareHandler } from 'hono';
import { describe, expect, it } from 'vitest';
import { addressRateLimit, clientAddress, principalRateLimit } from './rate-limit.js';

/** A clock the test moves. */
function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Stands in for the authentication that runs before the per-principal limit: a header names the principal. */
const pretendAuthenticated: MiddlewareHandler = async (c, next) => {
  const who = c.req.header('x-test-principal');
  if (who) {
    const [role, subject] = who.split(':') as [Principal['role'], string];
    c.set('principal', { role, subject, token: 't' });
  }
  await next();
};

function app(time: ReturnType<typeof clock>) {
  let forwarded = 0;
  const http = createHttpApp({
    log: createLogger('test', 'silent'),
    edge: [addressRateLimit({ capacity: 3, windowSeconds: 30 }, 0, time.now)],
  });
  http.use('/api/*', pretendAuthenticated);
  http.use(
    '/api/*',
    principalRateLimit(
      {
        customer: { capacity: 2, windowSeconds: 60 },
        agent: { capacity: 5, windowSeconds: 60 },
        admin: { capacity: 10, windowSeconds: 60 },
      },
      time.now,
    ),
  );
  http.post('/api/things', (c) => {
    forwarded += 1;
    return c.json({ ok: true }, 201);
  });
  const env = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });
  const send = (address: string, principal?: string) =>
    http.request('/api/things', { method: 'POST', headers: principal ? { 'x-test-principal': principal } : {} }, env(address));
  return { send, forwarded: () => forwarded };
}

describe('rate limits at the gateway', () => {
  it('per address: refuses past the quota with 429 problem+json, Retry-After and the RateLimit fields, and forwards nothing', async () => {
    const time = clock();
    const { send, forwarded } = app(time);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await send('10.0.0.1'));
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 429]);
    expect(forwarded()).toBe(3);
    expect(answers[0]?.headers.get('ratelimit-policy')).toBe('"address";q=3;w=30');
    expect(answers[0]?.headers.get('ratelimit')).toBe('"address";r=2;t=10');
    const refused = answers[3]!;
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(refused.headers.get('ratelimit')).toBe('"address";r=0;t=30');
    expect(await refused.json()).toMatchObject({ status: 429, title: 'Too many requests', errors: [{ field: 'address' }] });
    // Another address has its own bucket; the first gets a token back after Retry-After.
    expect((await send('10.0.0.2')).status).toBe(201);
    time.advance(10_000);
    expect((await send('10.0.0.1')).status).toBe(201);
  });

  it('per principal: each role its quota, each principal its bucket, both policies listed', async () => {
    const time = clock();
    const { send, forwarded } = app(time);
    const a = [await send('10.0.0.1', 'customer:c1'), await send('10.0.0.2', 'customer:c1'), await send('10.0.0.3', 'customer:c1')];
    expect(a.map((r) => r.status)).toEqual([201, 201, 429]);
    expect(forwarded()).toBe(2);
    expect(a[2]?.headers.get('ratelimit-policy')).toBe('"customer";q=2;w=60, "address";q=3;w=30');
    expect(a[2]?.headers.get('ratelimit')).toBe('"customer";r=0;t=60, "address";r=2;t=10');
    expect(Number(a[2]?.headers.get('retry-after'))).toBe(30);
    expect(((await a[2]!.json()) as { errors: unknown }).errors).toEqual([{ field: 'customer', reason: 'at most 2 requests per 60 s' }]);
    // Another customer, and an agent, are not held back by c1.
    expect((await send('10.0.0.4', 'customer:c2')).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await send(`10.1.0.${i}`, 'agent:ops')).status).toBe(201);
    expect((await send('10.1.0.9', 'agent:ops')).status).toBe(429);
  });

  it('takes the client address from X-Forwarded-For only as far as the trusted proxies wrote it', () => {
    const c = (xff: string | undefined) =>
      ({ env: { incoming: { socket: { remoteAddress: '10.9.9.9' } } }, req: { header: () => xff } }) as unknown as Parameters<
        typeof clientAddress
      >[0];
    expect(clientAddress(c('1.1.1.1'), 0)).toBe('10.9.9.9');
    expect(clientAddress(c('6.6.6.6, 1.1.1.1'), 1)).toBe('1.1.1.1');
    expect(clientAddress(c('6.6.6.6, 1.1.1.1, 10.0.0.5'), 2)).toBe('1.1.1.1');
    expect(clientAddress(c(undefined), 1)).toBe('10.9.9.9');
  });
});
