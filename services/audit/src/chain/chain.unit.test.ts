import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical.js';
import { type ChainedEntry, ChainVerifier, chainHash, GENESIS_HASH, type StoredCheckpoint, type StoredEntry } from './chain.js';
import { checkpointSignatureValid, generateSigningKey, keyIdOf, parseSigningKey, signCheckpoint } from './signing.js';

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined members and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: 'é' }], c: undefined } })).toBe('{"a":{"d":[3,{"y":"é","z":null}]},"b":1}');
  });

  it('gives the same text for the same value whatever the key order it was built in', () => {
    const one = { id: 'x', data: { lines: [{ q: 1, p: 2 }], total: 10 } };
    const other = JSON.parse('{"data":{"total":10,"lines":[{"p":2,"q":1}]},"id":"x"}') as unknown;
    expect(canonicalJson(other)).toBe(canonicalJson(one));
  });

  it('escapes strings as JSON does and refuses what JSON cannot hold', () => {
    expect(canonicalJson({ 'k"': 'a\nb\u0001' })).toBe('{"k\\"":"a\\nb\\u0001"}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
    expect(() => canonicalJson({ n: 1n })).toThrow();
  });
});

const entry = (position: number, overrides: Partial<ChainedEntry> = {}): ChainedEntry => ({
  position,
  eventId: `00000000-0000-7000-8000-${String(position).padStart(12, '0')}`,
  streamSequence: position + 10,
  subject: `events.order.o${position}.OrderPlaced`,
  type: 'OrderPlaced',
  aggregateType: 'order',
  aggregateId: `o${position}`,
  correlationId: 'c',
  actor: 'customer:1',
  occurredAt: '2026-12-02T08:00:00.000Z',
  recordedAt: '2026-12-02T08:00:00.001Z',
  tags: ['FINANCIAL'],
  envelope: { id: position, data: { totalCents: 100 * position } },
  ...overrides,
});

/** A chain of n entries, hashed as the consumer appends them. */
function chain(n: number): StoredEntry[] {
  const entries: StoredEntry[] = [];
  let previous = GENESIS_HASH;
  for (let position = 1; position <= n; position++) {
    const hash = chainHash(previous, entry(position));
    entries.push({ ...entry(position), hash });
    previous = hash;
  }
  return entries;
}

const key = parseSigningKey(generateSigningKey());
const keys = new Map([[key.keyId, key.publicKey]]);
const valid = (checkpoint: StoredCheckpoint) => checkpointSignatureValid(keys, checkpoint);

function verify(entries: readonly StoredEntry[], checkpoints: StoredCheckpoint[] = [], from = 1, to = entries.at(-1)?.position ?? 0) {
  const previous = from > 1 ? entries.find((e) => e.position === from - 1)!.hash : GENESIS_HASH;
  const verifier = new ChainVerifier(from, previous, new Map(checkpoints.map((c) => [c.position, c])), valid);
  for (const e of entries.filter((e) => e.position >= from && e.position <= to)) if (!verifier.push(e)) break;
  return { broken: verifier.finish(to), checked: verifier.checked };
}

describe('the hash chain', () => {
  it('links each entry to the one before: hash = sha256(previous hash || canonical entry)', () => {
    const [first, second] = chain(2);
    expect(first!.hash).toEqual(chainHash(GENESIS_HASH, entry(1)));
    expect(second!.hash).toEqual(chainHash(first!.hash, entry(2)));
    expect(chainHash(first!.hash, entry(2))).not.toEqual(chainHash(GENESIS_HASH, entry(2)));
  });

  it('verifies an untouched chain and counts what it checked', () => {
    expect(verify(chain(20))).toEqual({ broken: undefined, checked: 20 });
    expect(verify(chain(20), [], 5, 12)).toEqual({ broken: undefined, checked: 8 });
  });

  it("names a changed entry by position and id: any chained field, the envelope's data or a tag", () => {
    for (const change of [{ envelope: { id: 7, data: { totalCents: 1 } } }, { actor: 'admin:x' }, { tags: [] }, { streamSequence: 1 }]) {
      const entries = chain(10);
      entries[6] = { ...entries[6]!, ...change };
      expect(verify(entries).broken).toMatchObject({ position: 7, id: entries[6]!.eventId, reason: 'hash-mismatch' });
    }
  });

  it('names the entry after one whose hash was rewritten to match its changed content', () => {
    const entries = chain(10);
    const changed = entry(4, { actor: 'someone-else' });
    entries[3] = { ...changed, hash: chainHash(entries[2]!.hash, changed) };
    expect(verify(entries).broken).toMatchObject({ position: 5, reason: 'hash-mismatch' });
  });

  it('names a deleted entry as a missing position, also one at the end below a checkpoint', () => {
    const entries = chain(10);
    expect(verify(entries.filter((e) => e.position !== 6)).broken).toMatchObject({ position: 6, id: null, reason: 'missing-position' });
    expect(verify(entries.slice(0, 8), [], 1, 10).broken).toMatchObject({ position: 9, reason: 'missing-position' });
  });

  it('names a forged entry inserted at the end with a made-up hash', () => {
    const entries = chain(5);
    entries.push({ ...entry(6, { actor: 'forger' }), hash: Buffer.alloc(32, 7) });
    expect(verify(entries).broken).toMatchObject({ position: 6, reason: 'hash-mismatch' });
  });

  it('catches a rewritten tail by its signed checkpoint: the head there is not the one signed', () => {
    const entries = chain(10);
    const checkpoint = signCheckpoint(key, 8, entries[7]!.hash, '2026-12-02T08:00:01.000Z');
    // Everything from 3 on recomputed after changing entry 3: every hash is right, only the signature disagrees.
    let previous = entries[1]!.hash;
    for (let i = 2; i < 10; i++) {
      const changed = i === 2 ? entry(3, { actor: 'rewritten' }) : entry(i + 1);
      previous = chainHash(previous, changed);
      entries[i] = { ...changed, hash: previous };
    }
    expect(verify(entries, [checkpoint]).broken).toMatchObject({ position: 8, reason: 'checkpoint-mismatch' });
  });

  it('names a checkpoint whose signature does not verify: altered, or made with another key', () => {
    const entries = chain(10);
    const checkpoint = signCheckpoint(key, 5, entries[4]!.hash, '2026-12-02T08:00:01.000Z');
    expect(verify(entries, [checkpoint]).broken).toBeUndefined();
    const altered = { ...checkpoint, signature: Buffer.from(checkpoint.signature).fill(1, 0, 4) };
    expect(verify(entries, [altered]).broken).toMatchObject({ position: 5, reason: 'signature-invalid' });
    const later = { ...checkpoint, signedAt: '2026-12-02T09:00:00.000Z' };
    expect(verify(entries, [later]).broken).toMatchObject({ position: 5, reason: 'signature-invalid' });
    const other = parseSigningKey(generateSigningKey());
    const foreign = signCheckpoint(other, 5, entries[4]!.hash, checkpoint.signedAt);
    expect(verify(entries, [foreign]).broken).toMatchObject({ position: 5, reason: 'signature-invalid' });
  });
});

describe('the signing key', () => {
  it('reads PKCS#8 as PEM or as base64 DER, and names the same key either way', () => {
    const base64 = generateSigningKey();
    const fromDer = parseSigningKey(base64);
    const pem = fromDer.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(parseSigningKey(pem).keyId).toBe(fromDer.keyId);
    expect(fromDer.keyId).toBe(keyIdOf(fromDer.publicKey));
    expect(fromDer.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses what is not an Ed25519 private key', () => {
    expect(() => parseSigningKey('not a key')).toThrow(/PKCS#8/);
    expect(() => parseSigningKey(Buffer.from('garbage').toString('base64'))).toThrow(/PKCS#8/);
  });
});
