import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/**
 * The development token issuer: what `npm start` and the tests run so that the system is secured out of the box. Its
 * signing keys live in one directory (a data directory of npm start, a temporary one in tests), `keys.json` readable
 * by its owner only; its public keys are served on loopback as an OpenID provider publishes them (discovery document
 * and JWKS). It signs tokens itself; there is no login: whoever can read the key file can mint any token, which is
 * what a developer's own machine is for. A real deployment points AUTH_ISSUER at a real provider (Hydra, say).
 */

const ALG = 'ES256';
const KEYS_FILE = 'keys.json';
const ISSUER_FILE = 'issuer.json';

type StoredKey = { kid: string; alg: typeof ALG; createdAt: string; jwk: JWK };
type KeyStore = { keys: StoredKey[] };

/** What `issuer.json` records about the running issuer, for tools that sign offline (npm run token, test workers). */
export type IssuerInfo = { issuer: string; audience: string; jwksUrl: string };

export type DevTokenOptions = {
  /** Put in the `roles` claim (unset: no roles claim, so only `claims` can grant one). */
  role?: string;
  /** The token's subject; for a customer, their customer id. Default `dev-<role>`. */
  sub?: string;
  /** Lifetime: seconds, or `90s`, `30m`, `1h`, `2d`; negative gives a token that already expired. Default 1 h. */
  ttl?: string | number;
  audience?: string | string[];
  /** Another issuer than this one (a token the services must refuse). */
  issuer?: string;
  /** Signs with this key rather than the newest one. */
  kid?: string;
  /** More claims (`scope`, say), over the defaults. */
  claims?: Record<string, unknown>;
};

export type DevTokenSigner = {
  issuer: string;
  audience: string;
  sign(options?: DevTokenOptions): Promise<string>;
};

export type DevIssuer = DevTokenSigner & {
  jwksUrl: string;
  dir: string;
  /** `POST` here for a token (only with `tokenEndpoint`). */
  tokenUrl?: string;
  /** What a service needs to verify this issuer's tokens. */
  env: { AUTH_ISSUER: string; AUTH_AUDIENCE: string; AUTH_JWKS_URL: string };
  /** A new signing key, published beside the old ones; tokens are signed with it from now on. Returns its kid. */
  rotate(): Promise<string>;
  /** Stops publishing a key: tokens it signed stop verifying once the services fetch the JWKS again. */
  retire(kid: string): Promise<void>;
  /** The published keys' ids, oldest first. */
  kids(): Promise<string[]>;
  /** The published keys, as the JWKS endpoint serves them. */
  jwks(): Promise<{ keys: JWK[] }>;
  stop(): Promise<void>;
};

/** A lifetime in seconds from `90`, `90s`, `30m`, `1h`, `2d` (or negative: already expired). */
export function parseTtl(ttl: string | number): number {
  if (typeof ttl === 'number') return Math.trunc(ttl);
  const match = /^(-?\d+)\s*([smhd]?)$/.exec(ttl.trim());
  if (!match) throw new Error(`a token lifetime is a number of seconds or like 90s, 30m, 1h, 2d (not "${ttl}")`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number.parseInt(match[1]!, 10) * unit;
}

async function newKey(): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! });
  return { kid, alg: ALG, createdAt: new Date().toISOString(), jwk: { ...jwk, kid, alg: ALG, use: 'sig' } };
}

/** Written whole to a file of the owner's only, then renamed over the old one: a reader never sees half a file. */
async function writeStore(dir: string, store: KeyStore): Promise<void> {
  const staging = join(dir, `.${KEYS_FILE}.${randomUUID()}`);
  await writeFile(staging, JSON.stringify(store, null, 2) + '\n', { mode: 0o600 });
  await chmod(staging, 0o600);
  await rename(staging, join(dir, KEYS_FILE));
}

/** The key store of `dir`, created with one key the first time (the directory itself for its owner only). */
async function loadStore(dir: string, create: boolean): Promise<KeyStore> {
  const file = join(dir, KEYS_FILE);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text !== undefined) return JSON.parse(text) as KeyStore;
  if (!create) throw new Error(`no development issuer keys in ${dir} (npm start creates them)`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const store = { keys: [await newKey()] };
  try {
    // Exclusive create: two processes starting at once end up with the same key, the first one's.
    await writeFile(file, JSON.stringify(store, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    return store;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return JSON.parse(await readFile(file, 'utf8')) as KeyStore;
    throw error;
  }
}

/** The public half of every key of the store: what the JWKS endpoint serves. */
function publicKeys(store: KeyStore): { keys: JWK[] } {
  return { keys: store.keys.map(({ jwk: { kty, crv, x, y, kid, alg, use } }) => ({ kty, crv, x, y, kid, alg, use })) };
}

/** The public keys of a development issuer's directory, as its JWKS endpoint serves them (a chart's inline JWKS). */
export async function devIssuerJwks(dir: string): Promise<{ keys: JWK[] }> {
  return publicKeys(await loadStore(dir, false));
}

async function signWith(dir: string, info: Pick<IssuerInfo, 'issuer' | 'audience'>, options: DevTokenOptions): Promise<string> {
  const store = await loadStore(dir, false);
  const key = options.kid ? store.keys.find((candidate) => candidate.kid === options.kid) : store.keys.at(-1);
  if (!key) throw new Error(`no key ${options.kid} in ${dir}`);
  const now = Math.floor(Date.now() / 1000);
  const sub = options.sub ?? `dev-${options.role ?? 'anyone'}`;
  const claims = { ...(options.role ? { roles: [options.role] } : {}), ...options.claims };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? info.issuer)
    .setAudience(options.audience ?? info.audience)
    .setSubject(sub)
    .setIssuedAt(now)
    .setJti(randomUUID())
    .setExpirationTime(now + parseTtl(options.ttl ?? '1h'))
    .sign(await importJWK(key.jwk, key.alg));
}

/**
 * Signs tokens with the keys of a directory where a development issuer runs or ran (npm run token, test workers), as
 * that issuer would: its issuer URL and audience come from the `issuer.json` it wrote.
 */
export async function devTokenSigner(dir: string): Promise<DevTokenSigner> {
  const text = await readFile(join(dir, ISSUER_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) throw new Error(`no development issuer has run with ${dir} (npm start starts one)`);
  const info = JSON.parse(text) as IssuerInfo;
  return { issuer: info.issuer, audience: info.audience, sign: (options = {}) => signWith(dir, info, options) };
}

export type DevIssuerOptions = {
  /** Where the keys are kept (and found again next time). */
  dir: string;
  /** 0 (default) takes any free port. */
  port?: number;
  host?: string;
  audience?: string;
  /**
   * Serves `POST /dev/token` `{role, sub?}` -> `{access_token, token_type, expires_in}`: a token for anyone who asks,
   * for the console's development sign-in (npm start, test systems). Never in anything but a developer's machine.
   */
  tokenEndpoint?: boolean;
};

const DEV_ROLES = new Set(['customer', 'agent', 'admin']);
const DEV_TOKEN_TTL_S = 3600;

/** Starts the development issuer on loopback: discovery at `/.well-known/openid-configuration`, keys at `/.well-known/jwks.json`. */
export async function startDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  const { dir } = options;
  const host = options.host ?? '127.0.0.1';
  const audience = options.audience ?? 'jetsaga';
  await loadStore(dir, true);
  let issuer = '';
  // The key file is read on every request: a rotation written by another process (a test, npm run token) is served at once.
  const server = createServer((request, response) => {
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify(body));
    };
    const path = new URL(request.url ?? '/', 'http://issuer').pathname;
    if (options.tokenEndpoint && path === '/dev/token' && request.method === 'POST') {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        let asked: { role?: unknown; sub?: unknown };
        try {
          asked = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof asked;
        } catch {
          return answer(400, { error: 'invalid_request', error_description: 'the body is not JSON' });
        }
        if (typeof asked.role !== 'string' || !DEV_ROLES.has(asked.role)) {
          return answer(400, { error: 'invalid_request', error_description: 'role: customer, agent or admin' });
        }
        const sub = typeof asked.sub === 'string' && asked.sub.length > 0 ? asked.sub : undefined;
        void signWith(dir, { issuer, audience }, { role: asked.role, ...(sub ? { sub } : {}), ttl: DEV_TOKEN_TTL_S }).then(
          (token) => answer(200, { access_token: token, token_type: 'Bearer', expires_in: DEV_TOKEN_TTL_S }),
          () => answer(500, { error: 'keys unreadable' }),
        );
      });
      return;
    }
    if (request.method !== 'GET') return answer(405, { error: 'method not allowed' });
    if (path === '/.well-known/openid-configuration') {
      return answer(200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: [ALG],
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        grant_types_supported: [],
      });
    }
    if (path === '/.well-known/jwks.json') {
      return void loadStore(dir, false).then(
        (store) => answer(200, publicKeys(store)),
        () => answer(500, { error: 'keys unreadable' }),
      );
    }
    answer(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const jwksUrl = `${issuer}/.well-known/jwks.json`;
  const info: IssuerInfo = { issuer, audience, jwksUrl };
  await writeFile(join(dir, ISSUER_FILE), JSON.stringify(info, null, 2) + '\n');
  return {
    issuer,
    audience,
    jwksUrl,
    ...(options.tokenEndpoint ? { tokenUrl: `${issuer}/dev/token` } : {}),
    dir,
    env: { AUTH_ISSUER: issuer, AUTH_AUDIENCE: audience, AUTH_JWKS_URL: jwksUrl },
    sign: (tokenOptions = {}) => signWith(dir, info, tokenOptions),
    async rotate() {
      const store = await loadStore(dir, false);
      const key = await newKey();
      await writeStore(dir, { keys: [...store.keys, key] });
      return key.kid;
    },
    async retire(kid) {
      const store = await loadStore(dir, false);
      const keys = store.keys.filter((key) => key.kid !== kid);
      if (keys.length === 0) throw new Error('the last key of the issuer cannot be retired');
      await writeStore(dir, { keys });
    },
    kids: async () => (await loadStore(dir, false)).keys.map((key) => key.kid),
    jwks: () => devIssuerJwks(dir),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
