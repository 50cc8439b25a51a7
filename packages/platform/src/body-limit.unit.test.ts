import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHttpApp, readJson } from './http.js';
import { createLogger } from './log.js';

function app(maxBodyBytes?: number) {
  const http = createHttpApp({ log: createLogger('test', 'silent'), ...(maxBodyBytes ? { maxBodyBytes } : {}) });
  let handled = 0;
  http.post('/things', async (c) => {
    handled += 1;
    return c.json(await readJson(c, z.object({ name: z.string() })), 201);
  });
  return { http, handled: () => handled };
}

/** A body sent in chunks with no Content-Length, as a client streaming it would. */
function chunked(text: string, chunk = 64): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, (at += chunk)));
    },
  });
}

describe('request body limit', () => {
  it('refuses a body over the bound by its Content-Length with 413 problem+json, before the handler', async () => {
    const { http, handled } = app(100);
    const body = JSON.stringify({ name: 'x'.repeat(200) });
    const response = await http.request('/things', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({
      status: 413,
      title: 'Payload too large',
      errors: [{ field: '', reason: 'at most 100 bytes' }],
    });
    expect(handled()).toBe(0);
  });

  it('refuses a chunked body once the bytes read pass the bound', async () => {
    const { http, handled } = app(100);
    const response = await http.request('/things', {
      method: 'POST',
      body: chunked(JSON.stringify({ name: 'x'.repeat(500) })),
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(handled()).toBe(0);
  });

  it('passes a body within the bound, chunked or not, unchanged', async () => {
    const { http } = app(100);
    const body = JSON.stringify({ name: 'ada' });
    const plain = await http.request('/things', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(plain.status).toBe(201);
    const streamed = await http.request('/things', {
      method: 'POST',
      body: chunked(body, 4),
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(201);
    expect(await streamed.json()).toEqual({ name: 'ada' });
  });

  it('bounds every service at 1 MiB by default', async () => {
    const { http } = app();
    const body = JSON.stringify({ name: 'x'.repeat(1024 * 1024) });
    const response = await http.request('/things', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
    });
    expect(response.status).toBe(413);
  });
});
