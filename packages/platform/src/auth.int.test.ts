import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevIssuer, freePort, startDevIssuer, waitFor } from '@jetsaga/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeysUnavailableError, tokenVerifier } from './auth.js';
import { InvalidTokenError } from './errors.js';

/**
 * Verification against a real issuer over HTTP: the development issuer on loopback, its JWKS found through its
 * discovery document, then rotated and retired as a real provider rotates its keys.
 */

let dir: string;
let issuer: DevIssuer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jetsaga-auth-'));
  issuer = await startDevIssuer({ dir });
});

afterAll(async () => {
  await issuer?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a JWKS over HTTP', () => {
  it('keeps the private key readable by its owner only', async () => {
    expect((await stat(join(dir, 'keys.json'))).mode & 0o777).toBe(0o600);
  });

  it('finds the keys through discovery and verifies a token of the issuer', async () => {
    const verify = tokenVerifier({ issuer: issuer.issuer });
    const principal = await verify(await issuer.sign({ role: 'agent', sub: 'grace' }));
    expect(principal).toMatchObject({ subject: 'grace', role: 'agent' });
  });

  it('accepts tokens of a new key after a rotation, and of the old one until it is retired', async () => {
    // No cooldown: an unknown kid fetches the JWKS again at once, as the first request after a rotation would after 30 s.
    const verify = tokenVerifier({ issuer: issuer.issuer, jwksUrl: issuer.jwksUrl, jwksCooldownMs: 0, jwksMaxAgeMs: 300 });
    const [oldKid] = await issuer.kids();
    const before = await issuer.sign({ role: 'admin' });
    await verify(before);

    const newKid = await issuer.rotate();
    expect(newKid).not.toBe(oldKid);
    const after = await issuer.sign({ role: 'admin' });
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
    await expect(verify(after)).resolves.toMatchObject({ role: 'admin' });
    await expect(verify(before)).resolves.toMatchObject({ role: 'admin' });

    await issuer.retire(oldKid!);
    // The cached JWKS still holds the old key until it is older than jwksMaxAgeMs; then the old token is refused.
    await waitFor('the retired key to stop verifying', () =>
      verify(before).then(
        () => false,
        (error: unknown) => error instanceof InvalidTokenError,
      ),
    );
    await expect(verify(before)).rejects.toThrow(/no key of the issuer/);
    await expect(verify(after)).resolves.toMatchObject({ role: 'admin' });
  });

  it('answers 503, not 401, when the issuer cannot be reached', async () => {
    const verify = tokenVerifier({ issuer: `http://127.0.0.1:${await freePort()}` });
    const error = await verify(await issuer.sign({ role: 'admin' })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KeysUnavailableError);
    expect((error as KeysUnavailableError).status).toBe(503);
  });
});
