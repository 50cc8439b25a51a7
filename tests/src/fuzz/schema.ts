import fc from 'fast-check';

/** A JSON Schema (draft 2020-12) as the OpenAPI document has it, read loosely. */
export type JsonSchema = {
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  default?: unknown;
};

/** Identifiers the fuzzer prefers for a UUID: records that exist (the fixture's), so requests reach past the 404s. */
export type IdPool = readonly string[];

/** Strings outside any schema a route could mean: traversal, injection, encodings, control and wide characters. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '0',
  '-1',
  'null',
  'undefined',
  'NaN',
  '../../etc/passwd',
  '..%2F..%2F',
  "' OR '1'='1",
  '"; DROP TABLE orders; --',
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '%00',
  '\u0000',
  '\u202e\u0041',
  '😀'.repeat(50),
  'a'.repeat(5000),
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  '1e309',
  '9007199254740993',
  '[]',
  '{}',
] as const;

const hostile = fc.constantFrom(...HOSTILE_STRINGS);

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (schema.type) return [schema.type];
  if (schema.properties) return ['object'];
  if (schema.items) return ['array'];
  return [];
}

function stringValue(schema: JsonSchema, ids: IdPool): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.max(min, Math.min(schema.maxLength ?? 40, 200));
  switch (schema.format) {
    case 'uuid':
      return ids.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: fc.uuid() }) : fc.uuid();
    case 'email':
      return fc.emailAddress().filter((email) => email.length <= max || schema.maxLength === undefined);
    case 'date-time':
      return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((date) => date.toISOString());
    case 'date':
      return fc
        .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
        .map((date) => date.toISOString().slice(0, 10));
    case 'uri':
    case 'url':
      return fc.webUrl();
  }
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).filter((value) => value.length >= min && value.length <= Math.max(max, min));
    } catch {
      // A pattern JavaScript cannot compile: fall through to any string of the right length.
    }
  }
  return fc.string({ minLength: min, maxLength: max });
}

function numberValue(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (integer ? 1 : 1e-6) : -1_000_000);
  const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - (integer ? 1 : 1e-6) : 1_000_000_000);
  if (integer) {
    const low = Math.ceil(Math.max(min, Number.MIN_SAFE_INTEGER));
    const high = Math.floor(Math.min(max, Number.MAX_SAFE_INTEGER));
    // Small values are the likely ones (quantities, cents): biased towards the bottom of the range.
    return fc.oneof(fc.integer({ min: low, max: Math.min(high, low + 100) }), fc.integer({ min: low, max: high }));
  }
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/** Values the schema accepts (as far as these keywords go). */
export function validValue(schema: JsonSchema, ids: IdPool, depth = 0): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && alternatives.length > 0)
    return fc.oneof(...alternatives.map((alternative) => validValue(alternative, ids, depth + 1)));
  if (schema.allOf?.[0]) return validValue(schema.allOf[0], ids, depth + 1);
  const types = typesOf(schema).filter((type) => type !== 'null');
  const type = types[0];
  switch (type) {
    case 'string':
      return stringValue(schema, ids);
    case 'integer':
      return numberValue(schema, true);
    case 'number':
      return numberValue(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const item = schema.items ? validValue(schema.items, ids, depth + 1) : fc.jsonValue({ maxDepth: 1 });
      return fc.array(item, {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 4, Math.max(schema.minItems ?? 0, 4)),
      });
    }
    case 'object': {
      if (depth > 4) return fc.constant({});
      const properties = schema.properties ?? {};
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, property] of Object.entries(properties)) record[name] = validValue(property, ids, depth + 1);
      return fc.record(record, { requiredKeys: (schema.required ?? []).filter((name) => name in properties) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Any JSON value at all: the wrong type for most fields. */
const anyJson = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string(),
  hostile,
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

/** Values just outside what the schema accepts, and values of no relation to it. */
export function invalidValue(schema: JsonSchema, ids: IdPool, depth = 0): fc.Arbitrary<unknown> {
  const near: fc.Arbitrary<unknown>[] = [];
  const type = typesOf(schema).filter((candidate) => candidate !== 'null')[0];
  if (type === 'string') {
    if (schema.maxLength !== undefined) near.push(fc.constant('x'.repeat(schema.maxLength + 1)));
    if (schema.minLength) near.push(fc.constant('x'.repeat(schema.minLength - 1)));
    near.push(hostile, fc.integer(), fc.constant(null));
  } else if (type === 'integer' || type === 'number') {
    if (schema.minimum !== undefined) near.push(fc.constant(schema.minimum - 1));
    if (schema.maximum !== undefined) near.push(fc.constant(schema.maximum + 1));
    if (type === 'integer') near.push(fc.constant(1.5));
    near.push(fc.constantFrom(-1, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2), fc.string({ maxLength: 6 }).map(String), fc.constant(null));
  } else if (type === 'array') {
    if (schema.maxItems !== undefined && schema.items)
      near.push(fc.array(validValue(schema.items, ids, depth + 1), { minLength: schema.maxItems + 1, maxLength: schema.maxItems + 2 }));
    if (schema.minItems) near.push(fc.constant([]));
    near.push(fc.constant({}), fc.string());
  } else if (type === 'object' && depth < 4) {
    const properties = schema.properties ?? {};
    const names = Object.keys(properties);
    const valid = validValue(schema, ids, depth) as fc.Arbitrary<Record<string, unknown>>;
    const required = (schema.required ?? []).filter((name) => name in properties);
    if (required.length > 0) {
      near.push(
        fc.tuple(valid, fc.constantFrom(...required)).map(([object, name]) => {
          const { [name]: _dropped, ...rest } = object;
          return rest;
        }),
      );
    }
    near.push(
      valid.chain((object) =>
        fc
          .string({ minLength: 1, maxLength: 12 })
          .filter((key) => !(key in properties))
          .map((key) => ({ ...object, [key]: true })),
      ),
    );
    if (names.length > 0) {
      near.push(
        fc
          .tuple(valid, fc.constantFrom(...names))
          .chain(([object, name]) => invalidValue(properties[name]!, ids, depth + 1).map((value) => ({ ...object, [name]: value }))),
      );
    }
    near.push(fc.array(valid, { maxLength: 2 }), fc.constant(null), fc.string());
  }
  return near.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.oneof(...near) }, { weight: 1, arbitrary: anyJson }) : anyJson;
}

/** A path or query value: the schema's, or a hostile string. */
export function parameterValue(schema: JsonSchema, ids: IdPool): fc.Arbitrary<{ value: string; inSchema: boolean }> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: validValue(schema, ids).map((value) => ({
        value: typeof value === 'string' ? value : JSON.stringify(value),
        inSchema: true,
      })),
    },
    { weight: 1, arbitrary: fc.oneof(hostile, fc.string({ maxLength: 30 })).map((value) => ({ value, inSchema: false })) },
  );
}
