import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpApp, createLogger } from '@jetsaga/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { forward } from './proxy.js';

/**
 * The proxy against a real HTTP server on loopback that drops a kept-alive connection when the second request on it
 * arrives, without answering: what a service's keep-alive timeout closing the socket under a request looks like.
 */

type Upstream = { baseUrl: string; seen: string[]; server: Server };
/** One upstream per test: the proxy's pool of kept-alive sockets is per host and port. */
const upstreams: Upstream[] = [];

/** Records what it received, and whether it answered: `GET /api/x answered`. */
async function startUpstream(): Promise<Upstream> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const socket = req.socket as typeof req.socket & { served?: number };
    socket.served = (socket.served ?? 0) + 1;
    if (socket.served === 2) {
      seen.push(`${req.method} ${req.url} dropped`);
      socket.destroy();
      return;
    }
    seen.push(`${req.method} ${req.url} answered`);
    req.resume();
    req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstream = { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
  upstreams.push(upstream);
  return upstream;
}

afterAll(async () => {
  for (const { server } of upstreams) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function gateway(baseUrl: string) {
  const app = createHttpApp({ log: createLogger('gateway-test', 'silent') });
  app.all('/api/*', (c) => forward(c, baseUrl));
  return app;
}

describe('the proxy on a kept-alive socket that resets before any answer', () => {
  it('sends a GET again once, on a connection of its own', async () => {
    const { baseUrl, seen } = await startUpstream();
    const app = gateway(baseUrl);
    expect((await app.request('/api/first')).status).toBe(200);
    const response = await app.request('/api/again');
    expect(response.status).toBe(200);
    expect(seen).toEqual(['GET /api/first answered', 'GET /api/again dropped', 'GET /api/again answered']);
  });

  it('never sends a POST twice: the caller gets a 502 problem', async () => {
    const { baseUrl, seen } = await startUpstream();
    const app = gateway(baseUrl);
    expect((await app.request('/api/first', { method: 'POST', body: '{}' })).status).toBe(200);
    const response = await app.request('/api/carts', { method: 'POST', body: '{}' });
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(seen).toEqual(['POST /api/first answered', 'POST /api/carts dropped']);
  });
});
