import { z } from 'zod';

/**
 * Personal data in events (docs/adr/0052-crypto-shredding.md). A field marked `personal` in the catalogue is written to
 * the event log sealed with its customer's data key, `enc:v1:<keyId>:<iv>:<ciphertext+tag>` (AES-256-GCM, base64url),
 * and reads as `[erased]` once that key is destroyed. The schema of such a field accepts its plaintext (what `decide`
 * produces, what a reader holding the key sees), a sealed value and the erased marker.
 */
export const SEALED_PREFIX = 'enc:v1:';
export const ERASED = '[erased]';

/** A sealed value: the key id (a UUID), then the 12-byte IV and the ciphertext with its 16-byte tag, base64url. */
export const SEALED_VALUE = /^enc:v1:[0-9a-f-]{36}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22,}$/;

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && SEALED_VALUE.test(value);
}

const personalSchemas = new WeakSet<z.ZodType>();

const stored = z.union([z.string().regex(SEALED_VALUE), z.literal(ERASED)]);

/** Marks a text field of an event as personal data: sealed per customer in the log, shredded by erasure. */
export function personal<S extends z.ZodType<string>>(schema: S): z.ZodUnion<readonly [typeof stored, S]> {
  const marked = z.union([stored, schema]);
  personalSchemas.add(marked);
  return marked;
}

/** A path to a personal field in an event's data; `*` stands for every element of an array. */
export type PersonalPath = readonly string[];

function unwrap(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) {
    return unwrap(schema.unwrap() as z.ZodType);
  }
  return schema;
}

/** Every personal field of a data schema: objects, optional and nullable values and arrays are walked into. */
export function personalPaths(schema: z.ZodType, prefix: PersonalPath = []): PersonalPath[] {
  if (personalSchemas.has(schema)) return [prefix];
  const inner = unwrap(schema);
  if (inner !== schema) return personalPaths(inner, prefix);
  if (personalSchemas.has(inner)) return [prefix];
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, field]) => personalPaths(field, [...prefix, key]));
  }
  if (inner instanceof z.ZodArray) return personalPaths(inner.element as z.ZodType, [...prefix, '*']);
  return [];
}

/**
 * A copy of `data` with `change` applied to the string at every path (absent fields stay absent). Pure; `data` is
 * not modified.
 */
export function mapPersonal(data: unknown, paths: readonly PersonalPath[], change: (value: string) => string): unknown {
  let result = data;
  for (const path of paths) result = mapAt(result, path, change);
  return result;
}

function mapAt(value: unknown, path: PersonalPath, change: (value: string) => string): unknown {
  if (path.length === 0) return typeof value === 'string' ? change(value) : value;
  const [head, ...rest] = path as [string, ...string[]];
  if (head === '*') return Array.isArray(value) ? value.map((item) => mapAt(item, rest, change)) : value;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !(head in value)) return value;
  const record = value as Record<string, unknown>;
  return { ...record, [head]: mapAt(record[head], rest, change) };
}

/** The strings at every path of `data` (to collect the key ids a batch needs, say). */
export function personalValues(data: unknown, paths: readonly PersonalPath[]): string[] {
  const found: string[] = [];
  mapPersonal(data, paths, (value) => {
    found.push(value);
    return value;
  });
  return found;
}
