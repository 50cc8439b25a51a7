import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { StoredCheckpoint } from './chain.js';

/** The trail's signing key: its private half, its public half and the id checkpoints name it by. */
export type SigningKey = { privateKey: KeyObject; publicKey: KeyObject; keyId: string };

export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

/** A short stable id of a public key: the first 16 hex digits of sha256 over its SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('hex')
    .slice(0, 16);
}

/** AUDIT_SIGNING_KEY: an Ed25519 private key as PKCS#8, in PEM or as the base64 of its DER. */
export function parseSigningKey(text: string): SigningKey {
  let privateKey: KeyObject;
  try {
    const trimmed = text.trim();
    privateKey = trimmed.startsWith('-----BEGIN')
      ? createPrivateKey({ key: trimmed, format: 'pem' })
      : createPrivateKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new SigningKeyError('is neither a PEM nor a base64 PKCS#8 private key', { cause: error });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new SigningKeyError(`is a ${privateKey.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** A new key, as the base64 of its PKCS#8 DER (what the dev system keeps in its data directory). */
export function generateSigningKey(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

/** What a checkpoint's signature covers: the position, the chain head there, when and by which key. */
export function checkpointPayload(checkpoint: Pick<StoredCheckpoint, 'position' | 'hash' | 'signedAt' | 'keyId'>): Buffer {
  return Buffer.from(
    canonicalJson({
      kind: 'jetsaga-audit-checkpoint/v1',
      position: checkpoint.position,
      hash: checkpoint.hash.toString('hex'),
      signedAt: checkpoint.signedAt,
      keyId: checkpoint.keyId,
    }),
    'utf8',
  );
}

export function signCheckpoint(key: SigningKey, position: number, hash: Buffer, signedAt: string): StoredCheckpoint {
  const unsigned = { position, hash, signedAt, keyId: key.keyId };
  return { ...unsigned, signature: sign(null, checkpointPayload(unsigned), key.privateKey) };
}

/** True when the checkpoint was signed by one of `publicKeys` (by key id) over exactly what it says. */
export function checkpointSignatureValid(publicKeys: ReadonlyMap<string, KeyObject>, checkpoint: StoredCheckpoint): boolean {
  const publicKey = publicKeys.get(checkpoint.keyId);
  if (!publicKey) return false;
  try {
    return verify(null, checkpointPayload(checkpoint), publicKey, checkpoint.signature);
  } catch {
    return false;
  }
}
