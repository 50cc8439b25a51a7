import { createHttpApp, createLogger } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { cors, securityHeaders } from './headers.js';

function app(origins: string[] = []) {
  const http = createHttpApp({ log: createLogger('test', 'silent'), edge: [securityHeaders(), cors(origins)] });
  http.get('/api/things', (c) => c.json([]));
  http.get('/docs', (c) => c.html('<!doctype html><title>API</title>'));
  return http;
}

describe('security headers', () => {
  it('on every answer: nosniff, no framing, no referrer, a CSP that allows nothing for the API', async () => {
    for (const path of ['/api/things', '/healthz', '/api/nothing-here']) {
      const response = await app().request(path);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('content-security-policy')).toBe(
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      );
    }
  });

  it("lets the reference page load the gateway's own scripts, styles and document, and nothing else", async () => {
    const csp = (await app().request('/docs')).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/\*|https?:/);
    expect(csp).not.toContain("'unsafe-eval'");
  });
});

describe('CORS allow-list', () => {
  const allowed = 'https://shop.example.org';

  it('answers an allowed origin preflight with what it may send', async () => {
    const response = await app([allowed]).request('/api/things', {
      method: 'OPTIONS',
      headers: {
        origin: allowed,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('gives a foreign origin no allow header, on a preflight or a request', async () => {
    const inits: RequestInit[] = [
      { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } },
      { method: 'GET', headers: { origin: 'https://evil.example' } },
    ];
    for (const init of inits) {
      const response = await app([allowed]).request('/api/things', init);
      expect([...response.headers.keys()].filter((key) => key.startsWith('access-control-'))).toEqual([]);
      expect(response.headers.get('vary')).toContain('Origin');
    }
  });

  it("refuses a foreign origin's request that could change something, before any handler, but not the gateway's own", async () => {
    const http = app([allowed]);
    let handled = 0;
    http.post('/api/things', (c) => {
      handled += 1;
      return c.json({}, 201);
    });
    const foreign = await http.request('http://gw.local/api/things', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'text/plain' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('content-type')).toBe('application/problem+json');
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(handled).toBe(0);
    const own = await http.request('http://gw.local/api/things', {
      method: 'POST',
      headers: { origin: 'http://gw.local', host: 'gw.local' },
    });
    expect(own.status).toBe(201);
    const listed = await http.request('http://gw.local/api/things', { method: 'POST', headers: { origin: allowed } });
    expect(listed.status).toBe(201);
    expect(handled).toBe(2);
  });

  it('allows no origin at all by default', async () => {
    const response = await app().request('/api/things', { headers: { origin: allowed } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets an allowed origin read the rate-limit and request-id headers', async () => {
    const response = await app([allowed]).request('/api/things', { headers: { origin: allowed } });
    expect(response.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(response.headers.get('access-control-expose-headers')).toContain('ratelimit');
  });
});
