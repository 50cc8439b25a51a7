import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { cachedTool, go, goToolModule, runTool, toolVersion } from './go-build.js';
import { freePort, waitFor } from './ports.js';
import { terminate } from './process.js';
import type { Say } from './tools.js';

/**
 * Ory Hydra, a real OAuth2/OIDC provider, for the tests that the services accept tokens they did not sign themselves
 * (client-credentials grants, RS256, the provider's own discovery and JWKS). Built once per machine from the Go module
 * proxy through a throwaway module (`go install` refuses it: its go.mod has replace lines), and given a database of
 * its own on a Postgres (this build has no SQLite).
 */
export const HYDRA_VERSION = '2.3.0';

/** Hydra's own replace of pop, which its module graph needs; its local replace of hydra-client-go is left out. */
const POP_REPLACE = 'replace github.com/gobuffalo/pop/v6 => github.com/ory/pop/v6 v6.2.1-0.20241121111754-e5dfc0f3344b';

/** Hydra: HYDRA_BIN, else a `hydra` on PATH that reports the pinned version, else the pinned version built with Go (about 1 min). */
export async function ensureHydra(say: Say = () => undefined): Promise<string> {
  if (process.env.HYDRA_BIN) return process.env.HYDRA_BIN;
  if ((await toolVersion('hydra', ['version'])) === HYDRA_VERSION) return 'hydra';
  return cachedTool({
    name: 'hydra',
    version: HYDRA_VERSION,
    say,
    expected: 'about 1 min',
    build: async (staging) => {
      await goToolModule(staging, {
        module: 'jetsaga.local/hydra-build',
        requires: [`github.com/ory/hydra/v2 v${HYDRA_VERSION}`],
        imports: ['github.com/ory/hydra/v2'],
        replaces: [POP_REPLACE],
      });
      // Stamped, so `hydra version` says what it is (a plain build reports "master").
      const ldflags = `-X github.com/ory/hydra/v2/driver/config.Version=v${HYDRA_VERSION}`;
      await go(['build', '-ldflags', ldflags, '-o', join(staging, 'hydra'), 'github.com/ory/hydra/v2'], { cwd: staging });
    },
  });
}

export type HydraClientSpec = {
  /** Default: Hydra makes one up. A customer's client is named by their customer id, which becomes the token's `sub`. */
  clientId?: string;
  /** The scopes the client may ask for (`jetsaga:admin`, ...). */
  scopes: string[];
  /** The audiences the client may ask for. */
  audiences: string[];
};

export type HydraClient = { clientId: string; clientSecret: string };

export type HydraTokenRequest = { scopes?: string[]; audience?: string };

export type HydraServer = {
  /** The issuer (`iss` of its tokens), also where its discovery document and JWKS are served. */
  issuer: string;
  publicUrl: string;
  adminUrl: string;
  /** What a service needs to trust this issuer's tokens. */
  env: { AUTH_ISSUER: string };
  createClient(spec: HydraClientSpec): Promise<HydraClient>;
  /** A client-credentials access token (a JWT) for the client. */
  token(client: HydraClient, request?: HydraTokenRequest): Promise<string>;
  stop(): Promise<void>;
};

export type HydraOptions = {
  bin: string;
  /** A Postgres URL with the right to create a database: Hydra gets one of its own, dropped when it stops. */
  postgresUrl: string;
  /** Token lifetime (Hydra's TTL_ACCESS_TOKEN), default 1h. */
  accessTokenTtl?: string;
};

async function onDatabase(postgresUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Starts Hydra on free loopback ports (public and admin API) with its own database, migrated. */
export async function startHydra(options: HydraOptions): Promise<HydraServer> {
  const database = `hydra_${randomBytes(6).toString('hex')}`;
  await onDatabase(options.postgresUrl, `CREATE DATABASE ${database}`);
  const dsn = new URL(options.postgresUrl);
  dsn.pathname = `/${database}`;
  dsn.searchParams.set('sslmode', 'disable');
  const [publicPort, adminPort] = [await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${publicPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const env = {
    DSN: dsn.toString(),
    SECRETS_SYSTEM: randomBytes(24).toString('hex'),
    SERVE_PUBLIC_HOST: '127.0.0.1',
    SERVE_PUBLIC_PORT: String(publicPort),
    SERVE_ADMIN_HOST: '127.0.0.1',
    SERVE_ADMIN_PORT: String(adminPort),
    URLS_SELF_ISSUER: publicUrl,
    STRATEGIES_ACCESS_TOKEN: 'jwt',
    TTL_ACCESS_TOKEN: options.accessTokenTtl ?? '1h',
    LOG_LEVEL: 'warn',
  };
  await runTool(options.bin, ['migrate', 'sql', 'up', '-e', '--yes'], { env });
  let output = '';
  const child: ChildProcess = spawn(options.bin, ['serve', 'all', '--dev', '--sqa-opt-out'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = async () => {
    await terminate(child);
    await onDatabase(options.postgresUrl, `DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
  };
  try {
    await waitFor(
      'Hydra to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`hydra exited with ${child.exitCode}:\n${output}`);
        const [admin, open] = await Promise.all([fetch(`${adminUrl}/health/ready`), fetch(`${publicUrl}/health/ready`)]);
        return admin.ok && open.ok;
      },
      30_000,
      100,
    );
  } catch (error) {
    await stop();
    throw new Error(`Hydra did not start:\n${output}`, { cause: error });
  }
  return {
    issuer: publicUrl,
    publicUrl,
    adminUrl,
    env: { AUTH_ISSUER: publicUrl },
    async createClient(spec) {
      const response = await fetch(`${adminUrl}/admin/clients`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          ...(spec.clientId ? { client_id: spec.clientId } : {}),
          grant_types: ['client_credentials'],
          response_types: [],
          scope: spec.scopes.join(' '),
          audience: spec.audiences,
          token_endpoint_auth_method: 'client_secret_basic',
        }),
      });
      const body = (await response.json()) as { client_id?: string; client_secret?: string };
      if (!response.ok || !body.client_id || !body.client_secret) {
        throw new Error(`Hydra refused the client: ${response.status} ${JSON.stringify(body)}`);
      }
      return { clientId: body.client_id, clientSecret: body.client_secret };
    },
    async token(client, request = {}) {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (request.scopes) form.set('scope', request.scopes.join(' '));
      if (request.audience) form.set('audience', request.audience);
      const basic = Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64');
      const response = await fetch(`${publicUrl}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
        body: form,
      });
      const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!response.ok || !body.access_token) {
        throw new Error(`Hydra refused the token request: ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
      }
      return body.access_token;
    },
    stop,
  };
}
