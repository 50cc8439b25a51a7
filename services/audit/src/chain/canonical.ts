/**
 * The canonical JSON of a value (the JSON Canonicalization Scheme, RFC 8785, for the values JSON.parse gives): object
 * keys sorted by UTF-16 code units at every depth, no whitespace, numbers and strings as ECMAScript's JSON.stringify
 * writes them, undefined members left out. Two stores that hold the same entry (a row read back from jsonb, the
 * message as it arrived) give the same bytes, so the same hash.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
      const record = value as Record<string, unknown>;
      const members = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`a ${typeof value} has no JSON form`);
  }
}
