import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAuthConfig, roleOf } from './auth.js';
import { ConfigError } from './config.js';
import { createHttpApp } from './http.js';
import { createLogger } from './log.js';
import { actorOf, principalOf } from './principal.js';

const ISSUER = 'https://issuer.example';
let key: CryptoKey;
let otherKey: CryptoKey;
let publicJwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  otherKey = (await generateKeyPair('ES256')).privateKey;
});

type TokenSpec = { claims?: JWTPayload; exp?: number; iss?: string; aud?: string; sub?: string | null; kid?: string; signWith?: CryptoKey };

async function token(spec: TokenSpec = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ roles: ['admin'], ...spec.claims })
    .setProtectedHeader({ alg: 'ES256', kid: spec.kid ?? 'k1' })
    .setIssuer(spec.iss ?? ISSUER)
    .setAudience(spec.aud ?? 'jetsaga')
    .setIssuedAt(now)
    .setExpirationTime(spec.exp ?? now + 300);
  if (spec.sub !== null) jwt.setSubject(spec.sub ?? 'ada');
  return jwt.sign(spec.signWith ?? key);
}

function app() {
  const http = createHttpApp({ log: createLogger('test', 'silent'), auth: { issuer: ISSUER, jwks: { keys: [publicJwk] } } });
  http.get('/api/me', (c) => {
    const principal = principalOf(c);
    return c.json({ subject: principal.subject, role: principal.role, actor: actorOf(principal), sameToken: principal.token.length > 0 });
  });
  http.get('/openapi.json', (c) => c.json({ openapi: '3.1.0' }));
  return http;
}

const get = (path: string, authorization?: string) => app().request(path, { headers: authorization ? { authorization } : {} });

async function refused(response: Response, status: number, detail: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const problem = (await response.json()) as { status: number; detail: string };
  expect(problem.status).toBe(status);
  expect(problem.detail).toMatch(detail);
  return problem;
}

describe('bearer tokens on /api', () => {
  it('serves a valid token with its principal, and leaves the routes outside /api public', async () => {
    const response = await get('/api/me', `Bearer ${await token({ sub: 'c-1', claims: { roles: ['customer'] } })}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ subject: 'c-1', role: 'customer', actor: 'customer:c-1', sameToken: true });
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/openapi.json')).status).toBe(200);
  });

  it('refuses a request without a token with the bare Bearer challenge', async () => {
    await refused(await get('/api/me'), 401, /needs a bearer token/);
    expect((await get('/api/me')).headers.get('www-authenticate')).toBe('Bearer');
    // An unknown route under /api is refused too, before anything says whether it exists.
    await refused(await get('/api/nothing-here'), 401, /bearer token/);
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ['another scheme', async () => 'Basic YWRhOnNlY3JldA==', /not a bearer token/],
    ['a token that is no JWT', async () => 'Bearer not-a-jwt', /malformed/],
    ['an expired token', async () => `Bearer ${await token({ exp: Math.floor(Date.now() / 1000) - 120 })}`, /expired at 20/],
    ['another issuer', async () => `Bearer ${await token({ iss: 'https://evil.example' })}`, /not issued by https:\/\/issuer.example/],
    ['another audience', async () => `Bearer ${await token({ aud: 'billing' })}`, /not meant for audience jetsaga/],
    ['a forged signature', async () => `Bearer ${await token({ signWith: otherKey })}`, /signature does not verify/],
    ['an unknown key id', async () => `Bearer ${await token({ kid: 'k2' })}`, /no key of the issuer/],
    ['no subject', async () => `Bearer ${await token({ sub: null })}`, /no sub claim/],
  ])('refuses %s with invalid_token, naming why but never the token', async (_name, header, detail) => {
    const authorization = await header();
    const response = await get('/api/me', authorization);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    const problem = await refused(response, 401, detail);
    const secret = authorization.split(' ')[1]!;
    expect(JSON.stringify(problem)).not.toContain(secret);
  });

  it('refuses a token signed with a shared secret, whatever its claims', async () => {
    const secret = new TextEncoder().encode('x'.repeat(32));
    const forged = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience('jetsaga')
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(secret);
    await refused(await get('/api/me', `Bearer ${forged}`), 401, /algorithm is not accepted/);
  });

  it('accepts a token expired by less than the 30 s clock skew', async () => {
    const response = await get('/api/me', `Bearer ${await token({ exp: Math.floor(Date.now() / 1000) - 10 })}`);
    expect(response.status).toBe(200);
  });

  it('refuses a valid token that grants no jetsaga role with 403', async () => {
    await refused(
      await get('/api/me', `Bearer ${await token({ claims: { roles: ['auditor'], scope: 'openid' } })}`),
      403,
      /no jetsaga role/,
    );
  });

  it('never puts the token into what a log or JSON of the principal shows', async () => {
    const raw = await token();
    const http = createHttpApp({ log: createLogger('test', 'silent'), auth: { issuer: ISSUER, jwks: { keys: [publicJwk] } } });
    http.get('/api/principal', (c) => c.json({ serialised: JSON.stringify(principalOf(c)), token: principalOf(c).token === raw }));
    const body = (await (await http.request('/api/principal', { headers: { authorization: `Bearer ${raw}` } })).json()) as {
      serialised: string;
      token: boolean;
    };
    expect(body.token).toBe(true);
    expect(JSON.parse(body.serialised)).toEqual({ subject: 'ada', role: 'admin' });
  });
});

describe('the role a token grants', () => {
  it.each<[string, JWTPayload, string | undefined]>([
    ['a roles claim', { roles: ['agent'] }, 'agent'],
    ['the highest of several roles', { roles: ['customer', 'admin', 'agent'] }, 'admin'],
    ['client-credentials scopes as a string (scope)', { scope: 'openid jetsaga:customer' }, 'customer'],
    ['client-credentials scopes as an array (scp, Hydra)', { scp: ['jetsaga:agent', 'offline'] }, 'agent'],
    ['roles and scopes together', { roles: ['customer'], scp: ['jetsaga:admin'] }, 'admin'],
    ['scopes of another application', { scp: ['billing:admin', 'admin'] }, undefined],
    ['unknown roles', { roles: ['root', 42] }, undefined],
    ['nothing', {}, undefined],
  ])('from %s', (_name, payload, role) => {
    expect(roleOf(payload)).toBe(role);
  });
});

describe('AUTH_* configuration', () => {
  it('needs an issuer, naming the variable', () => {
    expect(() => loadAuthConfig({})).toThrow(ConfigError);
    expect(() => loadAuthConfig({})).toThrow(/AUTH_ISSUER/);
  });

  it('defaults the audience and takes empty values as unset', () => {
    expect(loadAuthConfig({ AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: '', AUTH_JWKS_URL: '' })).toMatchObject({
      issuer: ISSUER,
      audience: 'jetsaga',
      clockToleranceSeconds: 30,
    });
    expect(loadAuthConfig({ AUTH_ISSUER: ISSUER }).jwksUrl).toBeUndefined();
  });

  it('reads an inline JWKS and refuses one that is not', () => {
    const config = loadAuthConfig({ AUTH_ISSUER: ISSUER, AUTH_JWKS: JSON.stringify({ keys: [publicJwk] }) });
    expect(config.jwks?.keys).toHaveLength(1);
    expect(() => loadAuthConfig({ AUTH_ISSUER: ISSUER, AUTH_JWKS: '{"keys":' })).toThrow(/AUTH_JWKS: not JSON/);
    expect(() => loadAuthConfig({ AUTH_ISSUER: ISSUER, AUTH_JWKS: '{"kty":"EC"}' })).toThrow(/AUTH_JWKS: not a JWKS/);
  });
});
