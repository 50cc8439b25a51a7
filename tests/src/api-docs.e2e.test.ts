import { waitFor } from '@jetsaga/devstack';
import { EVENT_TYPES } from '@jetsaga/events';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from './support/harness.js';

/** The published API: OpenAPI 3.1 at /openapi.json, the reference at /docs, AsyncAPI 3 at /asyncapi.json (ADR 0042). */

type Operation = {
  operationId: string;
  'x-roles': string[];
  'x-service'?: string;
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
};
type Document = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> } };

let t: TestSystem;

const anonymous = (path: string, base = t.system.gatewayUrl) => fetch(`${base}${path}`);

async function documentOf(base: string): Promise<{ status: number; document?: Document }> {
  const response = await anonymous('/openapi.json', base);
  return { status: response.status, ...(response.ok ? { document: (await response.json()) as Document } : {}) };
}

const operationsOf = (document: Document) =>
  Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));

function validator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
  return ajv;
}

beforeAll(async () => {
  t = await startTestSystem();
});

afterAll(async () => {
  await t?.stop();
});

describe('the OpenAPI document', () => {
  it('is served at /openapi.json without a token and validates as OpenAPI 3.1', async () => {
    const { status, document } = await documentOf(t.system.gatewayUrl);
    expect(status).toBe(200);
    const check = new Validator();
    const result = await check.validate(document as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(check.version).toBe('3.1');
    // It is checked for real: a document without its info does not pass.
    const { info: _info, ...broken } = document as unknown as Record<string, unknown>;
    expect((await new Validator().validate(broken as Parameters<Validator['validate']>[0])).valid).toBe(false);
  });

  it("keeps every operation of every service's own document (the gateway's ROUTES covers each documented path)", async () => {
    const gateway = operationsOf((await documentOf(t.system.gatewayUrl)).document!);
    const services = Object.entries(t.system.urls).filter(([name]) => name !== 'gateway');
    let documented = 0;
    const undocumented: string[] = [];
    for (const [name, url] of services) {
      const { status, document } = await documentOf(url);
      if (status === 404) {
        undocumented.push(name);
        continue;
      }
      expect(status, name).toBe(200);
      for (const operation of operationsOf(document!)) {
        expect(gateway, `${name}: ${operation}`).toContain(operation);
        documented += 1;
      }
    }
    // Besides them, the gateway's own (the event stream), which no service documents.
    const own = Object.values((await documentOf(t.system.gatewayUrl)).document!.paths).flatMap((methods) =>
      Object.values(methods).filter((operation) => operation['x-service'] === 'gateway'),
    );
    expect(own.length).toBeGreaterThan(0);
    expect(gateway).toHaveLength(documented + own.length);
    // Every service with an HTTP API declares its routes (packages/platform/src/api.ts).
    expect(undocumented).toEqual([]);
  });

  it('names the roles of every operation, and every operation answers without a token with 401 problem+json', async () => {
    const { document } = await documentOf(t.system.gatewayUrl);
    for (const [path, methods] of Object.entries(document!.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        expect(operation['x-roles'].length, `${method} ${path}`).toBeGreaterThan(0);
        expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '403']));
        const concrete = path.replace(/\{[^}]+\}/g, '0190a8e2-7c1e-7000-8000-000000000001');
        const response = await fetch(`${t.system.gatewayUrl}${concrete}`, { method: method.toUpperCase() });
        expect(response.status, `${method} ${path}`).toBe(401);
        expect(response.headers.get('content-type')).toBe('application/problem+json');
      }
    }
  });

  it('describes what the routes really answer (real answers validate against the documented schemas)', async () => {
    const { document } = await documentOf(t.system.gatewayUrl);
    const ajv = validator();
    ajv.addSchema(document!.components.schemas.Problem!, '#/components/schemas/Problem');
    const schema = (method: string, path: string, status: number) =>
      document!.paths[path]![method]!.responses[String(status)]!.content!['application/json']!.schema;
    const customer = await t.api.customer(1_000);
    const product = await t.api.product(5, 300);
    const cart = await t.api.cart(customer.id);
    const orderId = await t.api.checkout((await t.api.addItem(cart.id, product.id, 1)).id);
    await t.api.terminal(orderId);
    const answers: Array<[string, string, number, unknown]> = [
      ['get', '/api/customers/{id}', 200, await t.api.getCustomer(customer.id)],
      ['get', '/api/products/{id}', 200, await t.api.getProduct(product.id)],
      ['get', '/api/carts/{id}', 200, await t.api.ok('GET', `/api/carts/${cart.id}`)],
      ['get', '/api/orders/{id}', 200, await t.api.order(orderId)],
      ['get', '/api/events', 200, await t.api.ok('GET', '/api/events?limit=50')],
      ['get', '/api/event-store/status', 200, await t.api.ok('GET', '/api/event-store/status')],
      ['get', '/api/projections', 200, await t.api.ok('GET', '/api/projections')],
      ['get', '/api/sales/summary', 200, await t.api.ok('GET', '/api/sales/summary')],
    ];
    for (const [method, path, status, body] of answers) {
      const valid = ajv.validate(schema(method, path, status), body);
      expect(ajv.errors ?? [], `${method} ${path}`).toEqual([]);
      expect(valid).toBe(true);
    }
  });
});

describe('the interactive reference', () => {
  it('is served at /docs without a token, from the gateway alone', async () => {
    const page = await anonymous('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset, 'a path on the gateway').toMatch(/^\/docs\//);
      expect((await anonymous(asset)).status, asset).toBe(200);
    }
    // The page's policy lets it load nothing from another origin.
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });
});

describe('the AsyncAPI document', () => {
  it('is AsyncAPI 3 at /asyncapi.json, with a message for every event type of the catalogue', async () => {
    const response = await anonymous('/asyncapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      asyncapi: string;
      info: { title: string; version: string };
      channels: Record<string, { address: string }>;
      operations: Record<string, { action: string }>;
      components: { messages: Record<string, { payload: object }> };
    };
    expect(document.asyncapi).toBe('3.0.0');
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(Object.keys(document.components.messages)).toEqual(expect.arrayContaining([...EVENT_TYPES]));
    for (const type of EVENT_TYPES)
      expect(document.channels[type]?.address, type).toMatch(new RegExp(`^events\\.[a-z-]+\\.\\{aggregateId\\}\\.${type}$`));
    for (const operation of Object.values(document.operations)) expect(['send', 'receive']).toContain(operation.action);
  });

  it('describes the events as they are stored: each one validates against its message payload', async () => {
    const document = (await (await anonymous('/asyncapi.json')).json()) as {
      components: { messages: Record<string, { payload: object }> };
    };
    const customer = await t.api.customer(10);
    await t.api.product(1, 100);
    await t.api.buy(customer.id, (await t.api.product(1, 100)).id, 1);
    const { events } = await waitFor('some events of several types', async () => {
      const page = await t.api.ok<{ events: Array<{ type: string }> }>('GET', '/api/events?limit=1000');
      return new Set(page.events.map((event) => event.type)).size >= 5 ? page : undefined;
    });
    const ajv = validator();
    for (const event of events) {
      const { position: _position, ...envelope } = event as { position: number; type: string };
      const valid = ajv.validate(document.components.messages[envelope.type]!.payload, envelope);
      expect(ajv.errors ?? [], envelope.type).toEqual([]);
      expect(valid).toBe(true);
    }
  });
});
