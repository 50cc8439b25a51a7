import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * The operator's own credential for the event store's /api/projections, which every service guards with bearer
 * tokens like any other API (listing and rebuilding need an admin token). Three ways, first match wins:
 *   OPERATOR_OIDC_TOKEN_URL + _CLIENT_ID + _CLIENT_SECRET: OAuth2 client credentials at the issuer's token endpoint,
 *     the token kept until a minute before it expires (what a real provider such as Hydra gives);
 *   OPERATOR_API_BEARER_FILE: a token in a file (a mounted Secret), read on each call so a renewed Secret is used;
 *   OPERATOR_API_BEARER: the token itself (local runs).
 * None: requests go without a token (an event store that does not check, such as the k8s tests' stand-in).
 */
export type ApiToken = () => Promise<string | undefined>;

const optional = z.preprocess((value) => (value === '' ? undefined : value), z.string().optional());

export const apiTokenConfig = z.object({
  OPERATOR_OIDC_TOKEN_URL: optional,
  OPERATOR_OIDC_CLIENT_ID: optional,
  OPERATOR_OIDC_CLIENT_SECRET: optional,
  OPERATOR_OIDC_SCOPE: z.string().default('jetsaga:admin'),
  OPERATOR_OIDC_AUDIENCE: optional,
  OPERATOR_API_BEARER_FILE: optional,
  OPERATOR_API_BEARER: optional,
});

export class ApiTokenError extends Error {
  override readonly name = 'ApiTokenError';
}

/** A token from the client-credentials grant, fetched again a minute before it expires. */
function clientCredentials(url: string, clientId: string, clientSecret: string, scope: string, audience?: string): ApiToken {
  let cached: { token: string; renewAt: number } | undefined;
  return async () => {
    if (cached && Date.now() < cached.renewAt) return cached.token;
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope });
    if (audience) form.set('audience', audience);
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: form,
      signal: AbortSignal.timeout(5000),
    }).catch((error: unknown) => {
      throw new ApiTokenError(`the token endpoint ${url} did not answer`, { cause: error });
    });
    const body = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string };
    if (!response.ok || !body.access_token)
      throw new ApiTokenError(`the token endpoint answered ${response.status} ${body.error ?? ''}`.trim());
    const lifetimeMs = (body.expires_in ?? 300) * 1000;
    cached = { token: body.access_token, renewAt: Date.now() + Math.max(lifetimeMs - 60_000, lifetimeMs / 2) };
    return cached.token;
  };
}

export function apiToken(env: NodeJS.ProcessEnv): ApiToken {
  const config = apiTokenConfig.parse(env);
  if (config.OPERATOR_OIDC_TOKEN_URL) {
    if (!config.OPERATOR_OIDC_CLIENT_ID || !config.OPERATOR_OIDC_CLIENT_SECRET) {
      throw new ApiTokenError('OPERATOR_OIDC_TOKEN_URL needs OPERATOR_OIDC_CLIENT_ID and OPERATOR_OIDC_CLIENT_SECRET');
    }
    return clientCredentials(
      config.OPERATOR_OIDC_TOKEN_URL,
      config.OPERATOR_OIDC_CLIENT_ID,
      config.OPERATOR_OIDC_CLIENT_SECRET,
      config.OPERATOR_OIDC_SCOPE,
      config.OPERATOR_OIDC_AUDIENCE,
    );
  }
  const file = config.OPERATOR_API_BEARER_FILE;
  if (file) return async () => (await readFile(file, 'utf8')).trim();
  const token = config.OPERATOR_API_BEARER;
  return async () => token;
}
