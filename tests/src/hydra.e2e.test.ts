import { ensureHydra, type HydraServer, startHydra } from '@jetsaga/devstack';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiClient } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { expectProblem } from './support/problems.js';

/**
 * The system against a real OIDC provider: Ory Hydra issues client-credentials tokens (RS256, `scp` scopes, `sub` the
 * client id), and every service finds its keys through Hydra's own discovery document. Nothing of the development
 * issuer is involved. A customer is a client whose id is their customer id, so their token's subject names them.
 */

let hydra: HydraServer;
let t: TestSystem;
let admin: { clientId: string; clientSecret: string };

let bin: string;

// Hydra is built from its Go module once per machine (about a minute alone, several on a busy fresh machine): a hook
// of its own with room for that build, so the system's start below keeps the usual bound.
beforeAll(async () => {
  bin = await ensureHydra((message) => console.log(`[hydra] ${message}`));
}, 15 * 60_000);

beforeAll(async () => {
  hydra = await startHydra({ bin, postgresUrl: inject('postgresUrl') });
  t = await startTestSystem({ ...hydra.env });
  admin = await hydra.createClient({ scopes: ['jetsaga:admin'], audiences: ['jetsaga'] });
});

afterAll(async () => {
  await t?.stop();
  await hydra?.stop();
});

const gateway = (token: string) => apiClient(t.system.gatewayUrl, { token });

describe('tokens from Hydra', () => {
  it('carry an admin scope that the gateway and the services accept', async () => {
    const token = await hydra.token(admin, { scopes: ['jetsaga:admin'], audience: 'jetsaga' });
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: admin.clientId, scp: ['jetsaga:admin'], aud: ['jetsaga'] });
    expect(String(claims.iss).replace(/\/$/, '')).toBe(hydra.issuer);
    const api = gateway(token);
    const customer = await api.customer(5_000);
    const product = await api.product(3, 1_000);
    const order = await api.terminal(await api.buy(customer.id, product.id, 1));
    expect(order.status).toBe('COMPLETED');
    // Straight to a service's own port, the same token is verified there too.
    expect((await apiClient(t.system.urls.payment, { token }).call('GET', `/api/customers/${customer.id}`)).status).toBe(200);
  });

  it('give a customer, as a client named by their id, their own record and nobody else\u2019s', async () => {
    const api = gateway(await hydra.token(admin, { scopes: ['jetsaga:admin'], audience: 'jetsaga' }));
    const ada = await api.customer(1_000, 'Ada');
    const bob = await api.customer(1_000, 'Bob');
    const client = await hydra.createClient({ clientId: ada.id, scopes: ['jetsaga:customer'], audiences: ['jetsaga'] });
    const asAda = gateway(await hydra.token(client, { scopes: ['jetsaga:customer'], audience: 'jetsaga' }));
    const own = await asAda.call('GET', `/api/customers/${ada.id}`);
    expect(own.status).toBe(200);
    expect(own.body.id).toBe(ada.id);
    expectProblem(await asAda.call('GET', `/api/customers/${bob.id}`), 403);
  });

  it('for another audience are refused with 401', async () => {
    const client = await hydra.createClient({ scopes: ['jetsaga:admin'], audiences: ['jetsaga', 'billing'] });
    const foreign = await hydra.token(client, { scopes: ['jetsaga:admin'], audience: 'billing' });
    const response = await gateway(foreign).call('GET', '/api/orders');
    expectProblem(response, 401);
    expect(response.body.detail).toMatch(/audience jetsaga/);
  });

  it('without a jetsaga scope are refused with 403', async () => {
    const client = await hydra.createClient({ scopes: ['reports:read'], audiences: ['jetsaga'] });
    const token = await hydra.token(client, { scopes: ['reports:read'], audience: 'jetsaga' });
    expectProblem(await gateway(token).call('GET', '/api/orders'), 403);
  });
});
