import { catalog, EVENT_TYPES, eventSubject, parseEventSubject, uuidv7 } from '@jetsaga/events';
import { createLogger, type OpenApiDocument, openApiDocument, routes } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asyncApiDocument } from './asyncapi.js';
import { docsRoutes, mergeDocuments } from './docs.js';

const ok = { 200: { description: 'ok', schema: z.object({}) } };
const handler = () => new Response();

function documentOf(title: string, declared: Array<{ method: 'get' | 'post'; path: string }>): OpenApiDocument {
  const slice = routes();
  for (const { method, path } of declared)
    slice.add({ method, path, summary: path, tags: [title], roles: ['admin'], responses: ok, handler });
  return openApiDocument({ title, version: '1' }, slice.declared);
}

describe("the gateway's OpenAPI document", () => {
  it("keeps each service's operations that ROUTES sends to it, and names the ones it would not reach", () => {
    const { document, dropped } = mergeDocuments({
      order: documentOf('order', [
        { method: 'get', path: '/api/orders/:id' },
        { method: 'post', path: '/api/carts' },
        // The order list is the event store's read model: the gateway never sends it to order.
        { method: 'get', path: '/api/orders' },
      ]),
      'event-store': documentOf('event-store', [{ method: 'get', path: '/api/orders' }]),
    });
    expect(Object.keys(document.paths).sort()).toEqual(['/api/carts', '/api/orders', '/api/orders/{id}']);
    expect(document.paths['/api/orders']?.get?.['x-service']).toBe('event-store');
    expect(document.paths['/api/orders/{id}']?.get?.['x-service']).toBe('order');
    expect(dropped).toEqual(['GET /api/orders (order)']);
    expect(document.openapi).toBe('3.1.0');
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});

describe('the AsyncAPI document', () => {
  const document = asyncApiDocument() as {
    asyncapi: string;
    channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
    operations: Record<string, { action: string; channel: { $ref: string } }>;
    components: { messages: Record<string, { payload: { properties: Record<string, unknown> } }> };
  };

  it('has one channel, message and send operation per event type of the catalogue', () => {
    expect(document.asyncapi).toBe('3.0.0');
    for (const type of EVENT_TYPES) {
      expect(document.components.messages[type], type).toBeDefined();
      expect(document.channels[type]?.messages[type]?.$ref).toBe(`#/components/messages/${type}`);
      expect(document.operations[`send${type}`]).toMatchObject({ action: 'send', channel: { $ref: `#/channels/${type}` } });
    }
  });

  it("addresses each channel by the subject grammar: the address with an id is that event's subject", () => {
    for (const definition of catalog) {
      const id = uuidv7();
      const subject = document.channels[definition.type]!.address.replace('{aggregateId}', id);
      expect(subject).toBe(eventSubject(definition.aggregateType, id, definition.type));
      expect(parseEventSubject(subject)).toEqual({ aggregateType: definition.aggregateType, aggregateId: id, eventType: definition.type });
    }
  });

  it("gives each message the envelope with its type fixed and its data's JSON Schema", () => {
    const placed = document.components.messages.OrderPlaced!.payload.properties;
    expect(placed.type).toEqual({ type: 'string', const: 'OrderPlaced' });
    expect(placed.data).toMatchObject({ type: 'object', properties: { lines: expect.any(Object) } });
  });
});

describe('the interactive reference', () => {
  const app = docsRoutes({ upstreams: {} as never, log: createLogger('test', 'silent') });

  it('is a page whose scripts and styles are all served by the gateway itself', async () => {
    const page = await (await app.request('/docs')).text();
    const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset.startsWith('/docs/'), asset).toBe(true);
      const response = await app.request(asset);
      expect(response.status, asset).toBe(200);
      expect((await response.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
    expect(page).not.toMatch(/<script>/);
    expect(await (await app.request('/docs/init.js')).text()).toContain('validatorUrl: null');
  });

  it('serves no file of the package that it does not list', async () => {
    expect((await app.request('/docs/package.json')).status).toBe(404);
    expect((await app.request('/docs/..%2Fpackage.json')).status).toBe(404);
  });
});
