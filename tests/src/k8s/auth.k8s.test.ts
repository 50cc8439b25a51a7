import { join } from 'node:path';
import { SERVICE_CHARTS } from '@jetsaga/k8s-testbed';
import { describe, expect, inject, it } from 'vitest';
import { type Container, find, helmTemplate, podSpec } from './render.js';

/**
 * Bearer tokens in the charts (README, Security): every service gets the issuer it trusts (AUTH_*), the production
 * values refuse to render without an issuer of the installer's own, and the operator has a credential for the event
 * store's API.
 */
const helm = inject('helmBin');
const umbrella = join(inject('chartsDir'), 'jetsaga');
const render = (values: string[], set: string[] = []) => helmTemplate(helm, umbrella, { release: 'acme', namespace: 'shop', values, set });

const container = async (values: string[], set: string[], name: string): Promise<Container> =>
  podSpec(find(await render(values, set), 'Deployment', `acme-${name}`)).containers[0]!;
const variable = (c: Container, name: string) => c.env?.find((entry) => entry.name === name);

describe('the token issuer in the charts', () => {
  it('reaches every service, and not the operator, which serves no /api', async () => {
    const objects = await render([]);
    for (const name of SERVICE_CHARTS.filter((chart) => chart !== 'operator')) {
      const c = podSpec(find(objects, 'Deployment', `acme-${name}`)).containers[0]!;
      expect(variable(c, 'AUTH_ISSUER')?.value, name).toBe('http://127.0.0.1:8079');
      expect(variable(c, 'AUTH_AUDIENCE')?.value, name).toBe('jetsaga');
    }
    const operator = podSpec(find(objects, 'Deployment', 'acme-operator')).containers[0]!;
    expect(operator.env?.filter((entry) => entry.name.startsWith('AUTH_'))).toEqual([]);
  });

  it('takes the issuer, its keys inline, from a Secret or at a JWKS URL', async () => {
    // The JSON itself passes through as a string (a --set value cannot hold its brackets; --set-file can).
    const jwks = 'the-issuer-public-keys';
    const inline = await container([], ['global.auth.issuer=https://id.shop.example', `global.auth.jwks=${jwks}`], 'payment');
    expect(variable(inline, 'AUTH_ISSUER')?.value).toBe('https://id.shop.example');
    expect(variable(inline, 'AUTH_JWKS')?.value).toBe(jwks);
    const secret = await container([], ['global.auth.existingSecret=idp-keys', 'global.auth.jwksKey=keys.json'], 'order');
    expect(variable(secret, 'AUTH_JWKS')?.valueFrom?.secretKeyRef).toEqual({ name: 'idp-keys', key: 'keys.json' });
    const url = await container([], ['global.auth.jwksUri=https://id.shop.example/keys', 'gateway.auth.audience=edge'], 'gateway');
    expect(variable(url, 'AUTH_JWKS_URL')?.value).toBe('https://id.shop.example/keys');
    expect(variable(url, 'AUTH_AUDIENCE')?.value).toBe('edge');
  });

  it('in production: the installer\u2019s issuer, and no render without one', async () => {
    const c = await container(['values-production.yaml'], [], 'sales');
    expect(variable(c, 'AUTH_ISSUER')?.value).toBe('https://id.example.com');
    for (const issuer of ['', 'http://127.0.0.1:8079', 'http://localhost:4444']) {
      await expect(render(['values-production.yaml'], [`global.auth.issuer=${issuer}`]), issuer).rejects.toThrow(/global\.auth\.issuer/);
    }
  });

  it('gives the operator its credential for the event store: a mounted token, or client credentials', async () => {
    const objects = await render(['values-production.yaml']);
    const spec = podSpec(find(objects, 'Deployment', 'acme-operator')) as ReturnType<typeof podSpec> & {
      volumes?: Array<{ name: string; secret?: { secretName: string } }>;
    };
    expect(variable(spec.containers[0]!, 'OPERATOR_API_BEARER_FILE')?.value).toBe('/var/run/secrets/jetsaga/api/token');
    expect(spec.volumes?.find((volume) => volume.name === 'api-token')?.secret?.secretName).toBe('jetsaga-operator-api');
    await expect(render(['values-production.yaml'], ['operator.apiToken.existingSecret='])).rejects.toThrow(/operator\.apiToken/);

    const oidc = await container(
      ['values-production.yaml'],
      ['operator.apiToken.tokenUrl=https://id.example.com/oauth2/token', 'operator.apiToken.clientId=jetsaga-operator'],
      'operator',
    );
    expect(variable(oidc, 'OPERATOR_OIDC_TOKEN_URL')?.value).toBe('https://id.example.com/oauth2/token');
    expect(variable(oidc, 'OPERATOR_OIDC_CLIENT_SECRET')?.valueFrom?.secretKeyRef).toEqual({
      name: 'jetsaga-operator-api',
      key: 'client-secret',
    });
    expect(variable(oidc, 'OPERATOR_API_BEARER_FILE')).toBeUndefined();
  });
});
