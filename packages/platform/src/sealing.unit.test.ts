import { createEvent, ERASED, isSealed, personalFieldsOf, uuidv7 } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import {
  hasPlaintextPersonalData,
  keyIdOf,
  keyIdsOf,
  newDataKey,
  newKeyEncryptionKey,
  openEvent,
  openValue,
  parseKeyEncryptionKey,
  sealEvent,
  sealValue,
  unwrapDataKey,
  wrapDataKey,
} from './sealing.js';

const meta = () => ({
  id: uuidv7(),
  occurredAt: '2026-12-03T14:00:00.000Z',
  correlationId: uuidv7(),
  causationId: 'request-1',
  actor: 'test',
});
const customerId = uuidv7();
const registered = createEvent(
  'CustomerRegistered',
  customerId,
  {
    customerId,
    name: 'Ada Lovelace',
    email: 'ada@example.org',
    balanceCents: 10_000,
    address: { line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
    locale: 'en',
  },
  meta(),
);

describe('sealing personal data', () => {
  it('seals a value so that only its data key opens it, naming the key in the value', () => {
    const key = newDataKey(crypto.randomUUID());
    const sealed = sealValue(key, 'ada@example.org');
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('ada');
    expect(keyIdOf(sealed)).toBe(key.keyId);
    expect(openValue(new Map([[key.keyId, key]]), sealed)).toBe('ada@example.org');
    // Same plaintext, fresh IV: equal values do not show as equal in the log.
    expect(sealValue(key, 'ada@example.org')).not.toBe(sealed);
  });

  it('reads [erased] once the key is gone, or when another key of the same id does not open it', () => {
    const key = newDataKey(crypto.randomUUID());
    const sealed = sealValue(key, 'Ada');
    expect(openValue(new Map(), sealed)).toBe(ERASED);
    expect(openValue(new Map([[key.keyId, newDataKey(key.keyId)]]), sealed)).toBe(ERASED);
  });

  it('refuses a value whose ciphertext or key id was changed', () => {
    const key = newDataKey(crypto.randomUUID());
    const sealed = sealValue(key, 'Ada');
    const flipped = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'B' : 'A') + sealed.slice(-1);
    expect(openValue(new Map([[key.keyId, key]]), flipped)).toBe(ERASED);
  });

  it('passes plaintext and [erased] through open unchanged', () => {
    expect(openValue(new Map(), 'plain')).toBe('plain');
    expect(openValue(new Map(), ERASED)).toBe(ERASED);
  });

  it('seals every personal field of an event and nothing else, and opens it back to the same event', () => {
    expect(personalFieldsOf('CustomerRegistered')).toEqual([
      ['name'],
      ['email'],
      ['address', 'line1'],
      ['address', 'line2'],
      ['address', 'city'],
      ['address', 'postalCode'],
    ]);
    const key = newDataKey(crypto.randomUUID());
    const sealed = sealEvent(registered, key);
    const text = JSON.stringify(sealed);
    for (const plain of ['Ada Lovelace', 'ada@example.org', 'St James', 'London', 'SW1Y 4JH']) expect(text).not.toContain(plain);
    expect(sealed.data).toMatchObject({ customerId, balanceCents: 10_000, locale: 'en', address: { country: 'GB' } });
    expect(hasPlaintextPersonalData(registered)).toBe(true);
    expect(hasPlaintextPersonalData(sealed)).toBe(false);
    expect(keyIdsOf([sealed])).toEqual([key.keyId]);
    expect(openEvent(sealed, new Map([[key.keyId, key]]))).toEqual(registered);
    // Sealing twice changes nothing: a value already sealed is left as it is.
    expect(sealEvent(sealed, newDataKey(crypto.randomUUID()))).toEqual(sealed);
  });

  it('writes [erased] instead of sealing for an erased customer, and opens an erased event as [erased]', () => {
    const erased = sealEvent(registered, null);
    expect(erased.data).toMatchObject({
      name: ERASED,
      email: ERASED,
      address: { line1: ERASED, city: ERASED, postalCode: ERASED, country: 'GB' },
    });
    const key = newDataKey(crypto.randomUUID());
    expect(openEvent(sealEvent(registered, key), new Map()).data).toEqual(erased.data);
  });

  it('leaves events without personal fields untouched', () => {
    const completed = createEvent('OrderCompleted', customerId, { orderId: customerId }, meta());
    expect(sealEvent(completed, null)).toBe(completed);
    expect(hasPlaintextPersonalData(completed)).toBe(false);
  });
});

describe('wrapping data keys with the master key', () => {
  it('unwraps what it wrapped, and refuses another master key or another key id', () => {
    const kek = parseKeyEncryptionKey(newKeyEncryptionKey());
    const key = newDataKey(crypto.randomUUID());
    const wrapped = wrapDataKey(kek, key);
    expect(unwrapDataKey(kek, key.keyId, wrapped).key.equals(key.key)).toBe(true);
    expect(() => unwrapDataKey(parseKeyEncryptionKey(newKeyEncryptionKey()), key.keyId, wrapped)).toThrow();
    expect(() => unwrapDataKey(kek, crypto.randomUUID(), wrapped)).toThrow();
  });

  it('takes 32 bytes as base64 or hex, and names the variable otherwise', () => {
    expect(parseKeyEncryptionKey('00'.repeat(32))).toHaveLength(32);
    expect(parseKeyEncryptionKey(Buffer.alloc(32, 7).toString('base64'))).toHaveLength(32);
    expect(() => parseKeyEncryptionKey(undefined)).toThrow(ConfigError);
    expect(() => parseKeyEncryptionKey(Buffer.alloc(16).toString('base64'))).toThrow(/KEY_ENCRYPTION_KEY must be 32 bytes/);
    expect(() => parseKeyEncryptionKey('not a key')).toThrow(/KEY_ENCRYPTION_KEY/);
  });
});
