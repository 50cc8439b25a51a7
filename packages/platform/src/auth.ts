import type { MiddlewareHandler } from 'hono';
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';
import { ForbiddenError, HttpError, InvalidTokenError, UnauthorizedError } from './errors.js';
import type { Logger } from './log.js';
import { type Principal, ROLES, type Role } from './principal.js';

/** Where the keys of the token issuer come from, and what a token must say to be accepted. */
export type AuthOptions = {
  /** The `iss` every token must carry (with or without a trailing slash). */
  issuer: string;
  /** The `aud` every token must include. */
  audience?: string;
  /** The issuer's JWKS; unset: its discovery document's `jwks_uri`, else `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** The keys themselves (a cluster without a reachable issuer, a test): no HTTP at all. */
  jwks?: JSONWebKeySet;
  /** How far `exp`, `nbf` and `iat` may be off, in seconds (clocks of issuer and service differ). */
  clockToleranceSeconds?: number;
  /** After a fetch of the JWKS, how long an unknown `kid` is refused without fetching it again (key rotation). */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again (a removed key stops verifying after this). */
  jwksMaxAgeMs?: number;
};

export const DEFAULT_AUDIENCE = 'jetsaga';

/** Signatures from public keys only: a shared-secret algorithm would let anyone holding the JWKS sign. */
const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

const optional = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const authEnvironment = z.object({
  AUTH_ISSUER: z.url({ error: 'AUTH_ISSUER must be the URL of the bearer token issuer (every /api route needs a token)' }),
  AUTH_AUDIENCE: optional(z.string().min(1)),
  AUTH_JWKS_URL: optional(z.url()),
  AUTH_JWKS: optional(z.string()),
  AUTH_CLOCK_SKEW_S: z.coerce.number().int().min(0).max(300).default(30),
  AUTH_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
  AUTH_JWKS_MAX_AGE_MS: z.coerce.number().int().min(0).default(600_000),
});

/** The AUTH_* configuration of a service; a missing issuer or an unreadable AUTH_JWKS stops the process. */
export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthOptions {
  const config = loadConfig(authEnvironment, env);
  let jwks: JSONWebKeySet | undefined;
  if (config.AUTH_JWKS !== undefined) {
    try {
      jwks = JSON.parse(config.AUTH_JWKS) as JSONWebKeySet;
    } catch {
      throw new ConfigError('invalid configuration:\n  AUTH_JWKS: not JSON (a JWKS: {"keys": [...]})');
    }
    if (!jwks || !Array.isArray(jwks.keys)) throw new ConfigError('invalid configuration:\n  AUTH_JWKS: not a JWKS ({"keys": [...]})');
  }
  return {
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE ?? DEFAULT_AUDIENCE,
    ...(config.AUTH_JWKS_URL ? { jwksUrl: config.AUTH_JWKS_URL } : {}),
    ...(jwks ? { jwks } : {}),
    clockToleranceSeconds: config.AUTH_CLOCK_SKEW_S,
    jwksCooldownMs: config.AUTH_JWKS_COOLDOWN_MS,
    jwksMaxAgeMs: config.AUTH_JWKS_MAX_AGE_MS,
  };
}

/** The issuer's keys could not be fetched: not the caller's fault, so 503 rather than 401. */
export class KeysUnavailableError extends HttpError {
  override name = 'KeysUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super(503, 'Service unavailable', message, [], options);
  }
}

const withoutSlash = (url: string) => url.replace(/\/+$/, '');

/** The JWKS address: configured, else the issuer's discovery document says, else the conventional path. */
async function discoverJwksUrl(issuer: string): Promise<URL> {
  const base = withoutSlash(issuer);
  const response = await fetch(`${base}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
  if (response.ok) {
    const document = (await response.json()) as { jwks_uri?: unknown };
    if (typeof document.jwks_uri === 'string') return new URL(document.jwks_uri);
  } else if (response.status !== 404) {
    throw new Error(`the discovery document answered ${response.status}`);
  }
  return new URL(`${base}/.well-known/jwks.json`);
}

/** Errors of the key look-up that are the token's doing (no key with its kid, an algorithm no key has). */
const TOKEN_KEY_ERRORS = [errors.JWKSNoMatchingKey, errors.JWKSMultipleMatchingKeys, errors.JOSENotSupported];

function keySource(options: AuthOptions): JWTVerifyGetKey {
  if (options.jwks) return createLocalJWKSet(options.jwks);
  let remote: Promise<JWTVerifyGetKey> | undefined;
  const resolve = () =>
    (remote ??= (options.jwksUrl ? Promise.resolve(new URL(options.jwksUrl)) : discoverJwksUrl(options.issuer)).then(
      (url) =>
        createRemoteJWKSet(url, {
          cooldownDuration: options.jwksCooldownMs ?? 30_000,
          cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
        }),
      (error: unknown) => {
        remote = undefined;
        throw error;
      },
    ));
  return async function issuerKey(header, token) {
    try {
      return await (
        await resolve()
      )(header, token);
    } catch (error) {
      if (TOKEN_KEY_ERRORS.some((kind) => error instanceof kind)) throw error;
      throw new KeysUnavailableError('the token issuer\u2019s keys could not be fetched; try again', { cause: error });
    }
  };
}

/**
 * The role a token grants: its `roles` claim (an array), or its scopes `jetsaga:<role>` (`scp` or `scope`, as an OAuth2
 * client-credentials grant gives them). The highest one wins; none is undefined.
 */
export function roleOf(payload: JWTPayload): Role | undefined {
  const named = new Set<string>();
  if (Array.isArray(payload.roles)) for (const role of payload.roles) if (typeof role === 'string') named.add(role);
  for (const claim of ['scp', 'scope']) {
    const value = payload[claim];
    const scopes = Array.isArray(value) ? value : typeof value === 'string' ? value.split(' ') : [];
    for (const scope of scopes) if (typeof scope === 'string' && scope.startsWith('jetsaga:')) named.add(scope.slice('jetsaga:'.length));
  }
  return [...ROLES].reverse().find((role) => named.has(role));
}

/** Why a token was refused, in words for the problem's `detail`: never the token, nor anything of it but claim names. */
function refusal(error: unknown, options: Required<Pick<AuthOptions, 'issuer' | 'audience'>>): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof errors.JWTExpired) {
    const exp = typeof error.payload.exp === 'number' ? ` at ${new Date(error.payload.exp * 1000).toISOString()}` : '';
    return new InvalidTokenError(`the token expired${exp}`, { cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason } = error;
    if (reason === 'missing') return new InvalidTokenError(`the token has no ${claim} claim`, { cause: error });
    if (claim === 'iss') return new InvalidTokenError(`the token was not issued by ${options.issuer}`, { cause: error });
    if (claim === 'aud') return new InvalidTokenError(`the token is not meant for audience ${options.audience}`, { cause: error });
    if (claim === 'nbf') return new InvalidTokenError('the token is not valid yet', { cause: error });
    return new InvalidTokenError(`the token's ${claim} claim is invalid`, { cause: error });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new InvalidTokenError('the token signature does not verify with the issuer\u2019s keys', { cause: error });
  }
  if (error instanceof errors.JWKSNoMatchingKey) return new InvalidTokenError('no key of the issuer matches the token', { cause: error });
  if (error instanceof errors.JOSEAlgNotAllowed) return new InvalidTokenError('the token algorithm is not accepted', { cause: error });
  return new InvalidTokenError('the token is malformed', { cause: error });
}

export type TokenVerifier = (token: string) => Promise<Principal>;

/** Verifies a bearer JWT (signature from the issuer's keys, issuer, audience, expiry) and gives its principal. */
export function tokenVerifier(options: AuthOptions): TokenVerifier {
  const issuer = withoutSlash(options.issuer);
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const keys = keySource(options);
  const verifyOptions = {
    issuer: [issuer, `${issuer}/`],
    audience,
    algorithms: ALGORITHMS,
    clockTolerance: options.clockToleranceSeconds ?? 30,
    requiredClaims: ['exp', 'sub'],
  };
  return async function verifyToken(token) {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, verifyOptions));
    } catch (error) {
      throw refusal(error, { issuer: options.issuer, audience });
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new InvalidTokenError('the token has no sub claim');
    const role = roleOf(payload);
    if (!role) throw new ForbiddenError(`the token grants no jetsaga role (a roles claim, or a scope jetsaga:${ROLES.join('|')})`);
    const principal = { subject: payload.sub, role } as Principal;
    // Not enumerable: a principal logged or serialised whole never carries its token along.
    Object.defineProperty(principal, 'token', { value: token, enumerable: false });
    return principal;
  };
}

export type AuthenticateOptions = AuthOptions & {
  /** Refusals are logged (reason, path, request id; never the token), accepted requests at debug level. */
  log?: Logger;
  /** A verifier to share between apps, instead of one built from the options. */
  verifier?: TokenVerifier;
};

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Every request needs `Authorization: Bearer <jwt>` from the configured issuer: 401 problem+json without one or with
 * one that does not verify, 403 for a token with no jetsaga role; the verified principal is `c.get('principal')`.
 */
export function authenticate(options: AuthenticateOptions): MiddlewareHandler {
  const verify = options.verifier ?? tokenVerifier(options);
  const log = options.log;
  return async function authenticateMiddleware(c, next) {
    const header = c.req.header('authorization');
    let principal: Principal;
    try {
      if (!header) throw new UnauthorizedError('this route needs a bearer token (Authorization: Bearer <token>)');
      const token = BEARER.exec(header)?.[1];
      if (!token) throw new InvalidTokenError('the Authorization header is not a bearer token (Authorization: Bearer <token>)');
      principal = await verify(token);
    } catch (error) {
      if (error instanceof HttpError) {
        log?.info(
          { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status: error.status, reason: error.message },
          'request refused',
        );
      }
      throw error;
    }
    c.set('principal', principal);
    log?.debug(
      { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, subject: principal.subject, role: principal.role },
      'request authenticated',
    );
    await next();
  };
}
