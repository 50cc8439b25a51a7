import { openApiDocument, routes } from '@jetsaga/platform';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type FuzzWorld, operationsOf, requestArbitrary, verdict } from './fuzzer.js';
import { sequence } from './run.js';
import { invalidValue, validValue } from './schema.js';

const declared = routes()
  .add({
    method: 'post',
    path: '/api/carts/:id/items',
    summary: 'add',
    tags: ['carts'],
    roles: ['customer', 'admin'],
    ownership: 'A customer reaches only their own carts.',
    params: z.object({ id: z.guid() }),
    body: z.strictObject({ productId: z.uuid(), quantity: z.number().int().min(1).max(10) }),
    responses: { 200: { description: 'ok' } },
    handler: (c) => c.json({}),
  })
  .add({
    method: 'get',
    path: '/api/dlq',
    summary: 'list',
    tags: ['dlq'],
    roles: ['admin'],
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).optional() }),
    responses: { 200: { description: 'ok' } },
    handler: (c) => c.json([]),
  }).declared;
const document = openApiDocument({ title: 't', version: '1' }, declared);
const operations = operationsOf(document as unknown as Parameters<typeof operationsOf>[0]);
const owned = ['0190a000-0000-7000-8000-00000000000a'];
const world: FuzzWorld = {
  tokens: { admin: 'h.admin.s', agent: 'h.agent.s', customerA: 'h.a.s', customerB: 'h.b.s', forged: 'h.f.s', expired: 'h.e.s' },
  customerA: owned[0]!,
  owned,
  shared: ['0190a000-0000-7000-8000-00000000000b'],
  maxBodyBytes: 100,
};

describe('the fuzzer reads the OpenAPI document', () => {
  it('finds each operation with its roles, ownership, parameters and body', () => {
    expect(operations).toEqual([
      expect.objectContaining({ method: 'POST', path: '/api/carts/{id}/items', roles: ['customer', 'admin'], owned: true }),
      expect.objectContaining({ method: 'GET', path: '/api/dlq', roles: ['admin'], owned: false }),
    ]);
    expect(operations[0]?.pathParameters.map((parameter) => parameter.name)).toEqual(['id']);
    expect(operations[0]?.body?.schema).toMatchObject({ type: 'object', required: ['productId', 'quantity'] });
    expect(operations[1]?.queryParameters.map((parameter) => parameter.name)).toEqual(['limit']);
  });

  it('generates bodies the schema accepts, and bodies it refuses', () => {
    const schema = declared[0]!.body!;
    const bodySchema = operations[0]!.body!.schema;
    fc.assert(fc.property(validValue(bodySchema, owned), (value) => schema.safeParse(value).success));
    const invalid = fc.sample(invalidValue(bodySchema, owned), { seed: 7, numRuns: 300 });
    expect(invalid.filter((value) => schema.safeParse(value).success)).toEqual([]);
  });

  it('sends the credentials asked for: no token, or one of a role the operation does not list', () => {
    const dlq = operations[1]!;
    for (const request of fc.sample(requestArbitrary(dlq, world, 'none'), 20)) expect(request.headers.authorization).toBeUndefined();
    for (const request of fc.sample(requestArbitrary(dlq, world, 'wrong-role'), 20)) {
      expect(['customer', 'agent']).toContain(request.role);
      expect(request.headers.authorization).toMatch(/^Bearer h\.(a|agent)\.s$/);
    }
  });

  it('gives the same sequence for the same seed, the sweep first', () => {
    const one = sequence({ operations, world, seed: 42, runs: 30 });
    expect(sequence({ operations, world, seed: 42, runs: 30 })).toEqual(one);
    expect(one).toHaveLength(operations.length * 7 + 30);
    expect(one.slice(0, 7).map((request) => request.operation)).toEqual(Array(7).fill('POST /api/carts/{id}/items'));
    expect(sequence({ operations, world, seed: 43, runs: 30 })).not.toEqual(one);
  });
});

describe('the properties', () => {
  const [items, dlq] = operations as [(typeof operations)[0], (typeof operations)[0]];
  const request = (auth: string, extra: object = {}) =>
    ({ operation: '', method: 'POST', path: '/x', auth, headers: {}, bodyKind: 'none', namesOwned: false, ...extra }) as Parameters<
      typeof verdict
    >[1];
  it('a 5xx fails, whatever the request', () => {
    expect(verdict(items, request('valid'), { status: 500, body: '' }, false)).toMatch(/500/);
  });
  it('a 2xx without a valid token, or to a role not listed, fails', () => {
    for (const auth of ['none', 'malformed', 'forged', 'expired'])
      expect(verdict(items, request(auth), { status: 201, body: '' }, false)).toMatch(/without a valid token/);
    expect(verdict(dlq, request('wrong-role', { role: 'agent' }), { status: 200, body: '' }, false)).toMatch(/role agent/);
    expect(verdict(items, request('valid'), { status: 201, body: '' }, true)).toBeUndefined();
  });
  it("another customer's 2xx fails where customers reach only their own records and the request names one of A's", () => {
    expect(verdict(items, request('other-customer', { namesOwned: true }), { status: 200, body: '' }, false)).toMatch(/another customer/);
    expect(verdict(items, request('other-customer', { namesOwned: false }), { status: 200, body: '' }, false)).toBeUndefined();
    // A read naming A's order as a filter may answer the caller's own records, never A's.
    const read = request('other-customer', { namesOwned: true, method: 'GET' });
    expect(verdict(items, read, { status: 200, body: '{"items":[]}' }, false, ['a-id'])).toBeUndefined();
    expect(verdict(items, read, { status: 200, body: '{"items":[{"customerId":"a-id"}]}' }, false, ['a-id'])).toMatch(/A's records/);
    expect(verdict(dlq, request('other-customer', { namesOwned: true }), { status: 200, body: '' }, false)).toBeUndefined();
  });
  it('a refusal that changed something fails; one that changed nothing passes', () => {
    expect(verdict(items, request('valid'), { status: 404, body: '' }, true)).toMatch(/changed/);
    expect(verdict(items, request('none'), { status: 401, body: '' }, false)).toBeUndefined();
  });
});
