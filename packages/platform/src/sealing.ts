import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ERASED, isSealed, mapPersonal, personalFieldsOf, SEALED_PREFIX } from '@jetsaga/events';
import { ConfigError } from './config.js';

/**
 * The pure half of crypto-shredding (docs/adr/0052-crypto-shredding.md): AES-256-GCM over personal fields with a
 * customer's data key, and data keys wrapped by the master key (KEY_ENCRYPTION_KEY). No I/O: keys come in as values.
 */
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A customer's data key, unwrapped: its id (in every value it sealed) and its 32 bytes. */
export type DataKey = { keyId: string; key: Buffer };

/** The master key from configuration: 32 bytes as base64 (or base64url), or 64 hex digits. */
export function parseKeyEncryptionKey(text: string | undefined, variable = 'KEY_ENCRYPTION_KEY'): Buffer {
  const value = (text ?? '').trim();
  if (!value) throw new ConfigError(`${variable} is required: 32 random bytes, base64 (openssl rand -base64 32)`);
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== KEY_BYTES || (!/^[0-9a-fA-F]{64}$/.test(value) && !/^[A-Za-z0-9+/_-]{43}=?$/.test(value))) {
    throw new ConfigError(`${variable} must be 32 bytes, base64 (openssl rand -base64 32) or 64 hex digits`);
  }
  return key;
}

/** A fresh master key in the form KEY_ENCRYPTION_KEY takes (npm start and the test harness make one). */
export function newKeyEncryptionKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

export function newDataKey(keyId: string): DataKey {
  return { keyId, key: randomBytes(KEY_BYTES) };
}

function encrypt(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function decrypt(key: Buffer, iv: Buffer, body: Buffer, aad: string): Buffer {
  if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new Error('malformed ciphertext');
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
}

/** The data key as the key store keeps it: encrypted by the master key, bound to its key id (iv || ct || tag). */
export function wrapDataKey(kek: Buffer, dataKey: DataKey): Buffer {
  return encrypt(kek, dataKey.key, `jetsaga:data-key:${dataKey.keyId}`);
}

/** Throws when the wrapped key was not made with this master key for this key id. */
export function unwrapDataKey(kek: Buffer, keyId: string, wrapped: Buffer): DataKey {
  const key = decrypt(kek, wrapped.subarray(0, IV_BYTES), wrapped.subarray(IV_BYTES), `jetsaga:data-key:${keyId}`);
  if (key.length !== KEY_BYTES) throw new Error(`data key ${keyId} is not ${KEY_BYTES} bytes`);
  return { keyId, key };
}

/** `enc:v1:<keyId>:<iv>:<ciphertext+tag>`; the key id is authenticated with the value. */
export function sealValue(dataKey: DataKey, plaintext: string): string {
  const sealed = encrypt(dataKey.key, Buffer.from(plaintext, 'utf8'), dataKey.keyId);
  const iv = sealed.subarray(0, IV_BYTES).toString('base64url');
  return `${SEALED_PREFIX}${dataKey.keyId}:${iv}:${sealed.subarray(IV_BYTES).toString('base64url')}`;
}

/** The key id a sealed value names (undefined for any other value). */
export function keyIdOf(value: string): string | undefined {
  return isSealed(value) ? value.slice(SEALED_PREFIX.length).split(':')[0] : undefined;
}

/**
 * The plaintext of a sealed value, given the keys at hand by key id: `[erased]` when its key is gone (destroyed by
 * an erasure) or does not open it; any other value is returned as it is (plaintext, or already `[erased]`).
 */
export function openValue(keys: ReadonlyMap<string, DataKey>, value: string): string {
  if (!isSealed(value)) return value;
  const [keyId, iv, body] = value.slice(SEALED_PREFIX.length).split(':') as [string, string, string];
  const dataKey = keys.get(keyId);
  if (!dataKey) return ERASED;
  try {
    return decrypt(dataKey.key, Buffer.from(iv, 'base64url'), Buffer.from(body, 'base64url'), keyId).toString('utf8');
  } catch {
    return ERASED;
  }
}

type EventLike = { type: string; data: unknown };

/** The customer whose key seals an event's personal fields: `data.customerId` (the catalogue checks every such type has it). */
export function customerOf(event: EventLike): string | undefined {
  const id = (event.data as { customerId?: unknown } | null)?.customerId;
  return typeof id === 'string' ? id : undefined;
}

/** Whether an event carries personal fields in plaintext (what must not reach the log as it is). */
export function hasPlaintextPersonalData(event: EventLike): boolean {
  const paths = personalFieldsOf(event.type);
  if (paths.length === 0) return false;
  let plaintext = false;
  mapPersonal(event.data, paths, (value) => {
    if (!isSealed(value) && value !== ERASED) plaintext = true;
    return value;
  });
  return plaintext;
}

/**
 * The event with its personal fields sealed by the customer's key, or replaced by `[erased]` when the customer was
 * erased (`dataKey` null): plaintext never reaches the log. Values already sealed or erased are left as they are.
 */
export function sealEvent<E extends EventLike>(event: E, dataKey: DataKey | null): E {
  const paths = personalFieldsOf(event.type);
  if (paths.length === 0) return event;
  const data = mapPersonal(event.data, paths, (value) => {
    if (isSealed(value) || value === ERASED) return value;
    return dataKey ? sealValue(dataKey, value) : ERASED;
  });
  return { ...event, data };
}

/** The event with its personal fields opened by the keys at hand (`[erased]` where the key is gone). */
export function openEvent<E extends EventLike>(event: E, keys: ReadonlyMap<string, DataKey>): E {
  const paths = personalFieldsOf(event.type);
  if (paths.length === 0) return event;
  return { ...event, data: mapPersonal(event.data, paths, (value) => openValue(keys, value)) };
}

/** The key ids the sealed personal fields of these events name. */
export function keyIdsOf(events: readonly EventLike[]): string[] {
  const ids = new Set<string>();
  for (const event of events) {
    const paths = personalFieldsOf(event.type);
    if (paths.length === 0) continue;
    mapPersonal(event.data, paths, (value) => {
      const keyId = keyIdOf(value);
      if (keyId) ids.add(keyId);
      return value;
    });
  }
  return [...ids];
}
