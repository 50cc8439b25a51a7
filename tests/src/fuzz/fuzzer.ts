import fc from 'fast-check';
import { type IdPool, invalidValue, type JsonSchema, parameterValue, validValue } from './schema.js';

/**
 * Property-based HTTP fuzzing driven by the gateway's OpenAPI document (README, Security). Every request is generated
 * from one operation of the document: its path and query values from the parameters' schemas or outside them, its
 * body valid, invalid, malformed, oversized or absent, and its credentials one of six kinds. The properties, checked
 * on each answer, are the API's promises:
 * - no request gets a 5xx;
 * - nothing changes after a request the API refused (4xx);
 * - no request without a valid token, or with a role the operation does not list, gets a 2xx; nor does a customer
 *   naming another customer's records on an operation that limits customers to their own.
 */

export const ROLES = ['customer', 'agent', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type Parameter = { name: string; required: boolean; schema: JsonSchema };

export type Operation = {
  method: string;
  /** The OpenAPI path template: `/api/carts/{id}/items`. */
  path: string;
  roles: readonly Role[];
  /** Customers reach only their own records here (the operation's description says how). */
  owned: boolean;
  pathParameters: Parameter[];
  queryParameters: Parameter[];
  body?: { schema: JsonSchema; required: boolean };
};

type OpenApi = {
  paths: Record<
    string,
    Record<
      string,
      {
        'x-roles'?: Role[];
        description?: string;
        parameters?: Array<Parameter & { in: string }>;
        requestBody?: { required?: boolean; content?: Record<string, { schema: JsonSchema }> };
      }
    >
  >;
};

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

export function operationsOf(document: OpenApi): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const parameters = operation.parameters ?? [];
      const body = operation.requestBody?.content?.['application/json']?.schema;
      // "Roles: customer, admin. A customer reaches only their own carts.": a sentence after the roles is the ownership rule.
      const access = /Roles: [^.]*\.\s*(\S.*)?$/s.exec(operation.description ?? '');
      operations.push({
        method: method.toUpperCase(),
        path,
        roles: operation['x-roles'] ?? [...ROLES],
        owned: Boolean(access?.[1]),
        pathParameters: parameters.filter((parameter) => parameter.in === 'path'),
        queryParameters: parameters.filter((parameter) => parameter.in === 'query'),
        ...(body ? { body: { schema: body, required: operation.requestBody?.required ?? false } } : {}),
      });
    }
  }
  return operations;
}

/** The kinds of credentials a request carries. */
export const AUTH_MODES = ['none', 'malformed', 'forged', 'expired', 'wrong-role', 'other-customer', 'valid'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/**
 * The fixture's principals and records: customer A owns `owned` (their customer id, carts, order); customer B is
 * "another customer"; `shared` are records anyone with the right role may read (a product).
 */
export type FuzzWorld = {
  tokens: { admin: string; agent: string; customerA: string; customerB: string; forged: string; expired: string };
  customerA: string;
  owned: IdPool;
  shared: IdPool;
  maxBodyBytes: number;
};

export type BodyKind = 'none' | 'valid' | 'invalid' | 'malformed' | 'oversized' | 'wrong-type' | 'unexpected';

export type FuzzRequest = {
  operation: string;
  method: string;
  path: string;
  auth: AuthMode;
  /** The role of the token sent, when it is a real one. */
  role?: Role;
  headers: Record<string, string>;
  bodyKind: BodyKind;
  body?: string;
  /** Whether a path, query or body value names one of customer A's records. */
  namesOwned: boolean;
};

function tokenFor(world: FuzzWorld, auth: AuthMode, operation: Operation, pick: number): { token?: string; role?: Role; auth: AuthMode } {
  const others = ROLES.filter((role) => !operation.roles.includes(role));
  switch (auth) {
    case 'none':
      return { auth };
    case 'malformed':
      return { auth, token: ['x', 'Bearer', 'null', 'eyJ.eyJ.', world.tokens.admin.split('.').slice(0, 2).join('.')][pick % 5]! };
    case 'forged':
      return { auth, token: world.tokens.forged };
    case 'expired':
      return { auth, token: world.tokens.expired };
    case 'wrong-role': {
      const role = others[pick % Math.max(1, others.length)];
      if (!role) return tokenFor(world, 'valid', operation, pick);
      return {
        auth,
        role,
        token: role === 'customer' ? world.tokens.customerA : role === 'agent' ? world.tokens.agent : world.tokens.admin,
      };
    }
    case 'other-customer':
      if (!operation.roles.includes('customer')) return tokenFor(world, 'wrong-role', operation, pick);
      return { auth, role: 'customer', token: world.tokens.customerB };
    case 'valid': {
      const allowed = operation.roles;
      const role = allowed[pick % allowed.length]!;
      return {
        auth,
        role,
        token: role === 'customer' ? world.tokens.customerA : role === 'agent' ? world.tokens.agent : world.tokens.admin,
      };
    }
  }
}

/** The body of a request to `operation`, of some kind. */
function bodyArbitrary(
  operation: Operation,
  world: FuzzWorld,
  ids: IdPool,
): fc.Arbitrary<{ kind: BodyKind; text?: string; contentType?: string }> {
  const schema = operation.body?.schema;
  const json = (value: unknown) => JSON.stringify(value) ?? 'null';
  const kinds: Array<{ weight: number; arbitrary: fc.Arbitrary<{ kind: BodyKind; text?: string; contentType?: string }> }> = [
    { weight: 10, arbitrary: fc.constant({ kind: 'none' as const }) },
    {
      weight: 10,
      arbitrary: fc
        .oneof(fc.string({ maxLength: 40 }), fc.constantFrom('{', '{"a":', '[1,', 'nul', '{"a":1}}', '\u0000', '{"__proto__":{"x":1}}'))
        .map((text) => ({
          kind: 'malformed' as const,
          text,
        })),
    },
    {
      weight: 3,
      arbitrary: fc
        .constantFrom('x', '{"k":"', '[')
        .map((start) => ({ kind: 'oversized' as const, text: start + 'x'.repeat(world.maxBodyBytes + 100) })),
    },
  ];
  if (schema) {
    kinds.push(
      { weight: 50, arbitrary: validValue(schema, ids).map((value) => ({ kind: 'valid' as const, text: json(value) })) },
      { weight: 30, arbitrary: invalidValue(schema, ids).map((value) => ({ kind: 'invalid' as const, text: json(value) })) },
      {
        weight: 5,
        arbitrary: validValue(schema, ids).map((value) => ({ kind: 'wrong-type' as const, text: json(value), contentType: 'text/plain' })),
      },
    );
  } else {
    kinds.push({
      weight: 10,
      arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => ({ kind: 'unexpected' as const, text: json(value) })),
    });
  }
  return fc.oneof(...kinds);
}

/** One request to `operation`, with credentials of the kind `auth` (any kind when undefined). */
export function requestArbitrary(operation: Operation, world: FuzzWorld, auth?: AuthMode): fc.Arbitrary<FuzzRequest> {
  const ids = [...world.owned, ...world.shared];
  const pathValues = fc.tuple(...operation.pathParameters.map((parameter) => parameterValue(parameter.schema, ids)));
  const queryValues = fc.tuple(
    ...operation.queryParameters.map((parameter) =>
      fc.option(parameterValue(parameter.schema, ids), { freq: parameter.required ? 8 : 2, nil: undefined }),
    ),
  );
  const extraQuery = fc.option(
    fc.tuple(fc.constantFrom('unknown', 'limit', 'customerId', '__proto__', 'x[]'), fc.string({ maxLength: 10 })),
    { freq: 4, nil: undefined },
  );
  return fc
    .record({
      auth: auth ? fc.constant(auth) : fc.constantFrom(...AUTH_MODES),
      pick: fc.nat({ max: 1000 }),
      pathValues,
      queryValues,
      extraQuery,
      body: bodyArbitrary(operation, world, ids),
    })
    .map(({ auth: mode, pick, pathValues: values, queryValues: query, extraQuery: extra, body }) => {
      let path = operation.path;
      operation.pathParameters.forEach((parameter, index) => {
        path = path.replace(`{${parameter.name}}`, encodeURIComponent(values[index]!.value));
      });
      const search = new URLSearchParams();
      operation.queryParameters.forEach((parameter, index) => {
        const value = query[index];
        if (value) search.append(parameter.name, value.value);
      });
      if (extra) search.append(extra[0], extra[1]);
      const target = search.size > 0 ? `${path}?${search}` : path;
      const credentials = tokenFor(world, mode, operation, pick);
      const headers: Record<string, string> = {};
      if (credentials.token !== undefined) headers.authorization = `Bearer ${credentials.token}`;
      const sendsBody = body.text !== undefined && operation.method !== 'GET';
      if (sendsBody) headers['content-type'] = body.contentType ?? 'application/json';
      const text = `${target} ${sendsBody ? body.text : ''}`;
      return {
        operation: `${operation.method} ${operation.path}`,
        method: operation.method,
        path: target,
        auth: credentials.auth,
        ...(credentials.role ? { role: credentials.role } : {}),
        headers,
        bodyKind: sendsBody ? body.kind : 'none',
        ...(sendsBody ? { body: body.text } : {}),
        namesOwned: world.owned.some((id) => text.includes(id)),
      };
    });
}

/** What a failure says, enough to send the request again by hand. */
export function describeRequest(request: FuzzRequest): string {
  const body = request.body === undefined ? '' : ` body(${request.bodyKind}, ${request.body.length} B)=${request.body.slice(0, 300)}`;
  return `${request.method} ${request.path.slice(0, 300)} auth=${request.auth}${request.role ? `(${request.role})` : ''}${body}`;
}

export type Answer = { status: number; body: string };

/**
 * Which promise an answer broke, if any; `changed` says whether the system's state moved across the request, `owned`
 * lists customer A's ids. Another customer naming A's records must not write with them, and may read only what
 * carries none of them (a list filtered by A's order answers that customer's own records: none of A's).
 */
export function verdict(
  operation: Operation,
  request: FuzzRequest,
  answer: Answer,
  changed: boolean,
  owned: readonly string[] = [],
): string | undefined {
  const { status } = answer;
  if (status >= 500) return `answered ${status}`;
  const ok = status >= 200 && status < 300;
  if (ok && ['none', 'malformed', 'forged', 'expired'].includes(request.auth)) return `answered ${status} without a valid token`;
  if (ok && request.auth === 'wrong-role')
    return `answered ${status} to role ${request.role}, which ${operation.method} ${operation.path} does not allow`;
  if (ok && request.auth === 'other-customer' && operation.owned && request.namesOwned) {
    const read = request.method === 'GET' || request.method === 'HEAD';
    if (!read) return `answered ${status} to another customer writing with customer A's records`;
    if (owned.some((id) => answer.body.includes(id))) return `answered ${status} to another customer with customer A's records`;
  }
  if (status >= 400 && changed) return `refused with ${status}, yet the system changed`;
  return undefined;
}
