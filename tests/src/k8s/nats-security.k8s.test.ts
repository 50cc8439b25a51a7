import { join } from 'node:path';
import { loadTopologyConsumers, natsAuthorizationConfig, natsUsers, passwordVariable, TOPOLOGY_DIR } from '@jetsaga/devstack';
import type { KubeObject } from '@jetsaga/k8s-testbed';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { byKind, find, helmTemplate, podSpec, type PodSpec } from './render.js';

/**
 * NATS in the chart: no anonymous client, the users and permissions of k8s/topology (the same derivation as npm start
 * and the tests), passwords from a Secret (generated in the local profile, yours anywhere else), TLS from a Secret.
 */
const helm = inject('helmBin');
const chart = join(inject('chartsDir'), 'jetsaga');
const NATS_CLIENTS = ['order', 'inventory', 'payment', 'sales', 'support', 'shipping', 'notification', 'audit', 'event-store', 'gateway'];

type Env = NonNullable<PodSpec['containers'][number]['env']>;
const envOf = (objects: KubeObject[], kind: string, name: string): Env => podSpec(find(objects, kind, name)).containers[0]!.env ?? [];
const value = (env: Env, name: string) => env.find((variable) => variable.name === name);

async function expectedUsers() {
  return natsUsers(await loadTopologyConsumers(TOPOLOGY_DIR));
}

describe('NATS users in the chart (local profile)', () => {
  let objects: KubeObject[];
  beforeAll(async () => {
    objects = await helmTemplate(helm, chart, { release: 'jr', namespace: 'shop' });
  });

  it('renders the servers the authorization block the derivation gives for k8s/topology, passwords from the environment', async () => {
    const config = String((find(objects, 'ConfigMap', 'jr-nats').data as Record<string, string>)['nats.conf']);
    const expected = natsAuthorizationConfig(await expectedUsers(), (user) => `$${passwordVariable(user)}`);
    // The block as the derivation writes it, line for line (indented inside the ConfigMap).
    const rendered = config
      .split('\n')
      .filter((line) => line.length > 0)
      .join('\n');
    for (const line of expected.split('\n').filter((text) => text.trim().length > 0)) expect(rendered).toContain(line);
    expect(config).not.toMatch(/password: "/);
    expect(config).not.toContain('tls {');
  });

  it("generates one password per user in a Secret, and each server reads every user's from it", async () => {
    const users = (await expectedUsers()).map((user) => user.user);
    const secret = find(objects, 'Secret', 'jr-nats-auth') as KubeObject & { data: Record<string, string> };
    expect(Object.keys(secret.data).sort()).toEqual([...users].sort());
    for (const encoded of Object.values(secret.data))
      expect(Buffer.from(encoded, 'base64').toString()).toMatch(/^[A-Za-z][A-Za-z0-9]{31}$/);
    const server = envOf(objects, 'StatefulSet', 'jr-nats');
    for (const user of users) {
      expect(value(server, passwordVariable(user))?.valueFrom?.secretKeyRef, user).toEqual({ name: 'jr-nats-auth', key: user });
    }
  });

  it('connects every service as its own user (the gateway too, for its event stream) and the operator as the admin', () => {
    for (const name of NATS_CLIENTS) {
      const env = envOf(objects, 'Deployment', `jr-${name}`);
      expect(value(env, 'NATS_USER')?.value, name).toBe(name);
      expect(value(env, 'NATS_PASSWORD')?.valueFrom?.secretKeyRef, name).toEqual({ name: 'jr-nats-auth', key: name });
    }
    const operator = envOf(objects, 'Deployment', 'jr-operator');
    expect(value(operator, 'NATS_USER')?.value).toBe('admin');
    expect(value(operator, 'NATS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'jr-nats-auth', key: 'admin' });
  });
});

describe('NATS users and TLS outside the local profile', () => {
  it('refuses to render production without the users Secret, naming it', async () => {
    const render = helmTemplate(helm, chart, {
      set: ['global.profile=production', 'postgres.enabled=false', 'global.audit.existingSecret=audit', 'global.gdpr.existingSecret=gdpr'],
    });
    await expect(render).rejects.toThrow(/global\.nats\.auth\.existingSecret.*admin, order/);
  });

  it("takes the production values' Secrets: no generated password, TLS on with the servers' certificate and the clients' CA", async () => {
    const objects = await helmTemplate(helm, chart, { release: 'acme', namespace: 'shop', values: ['values-production.yaml'] });
    expect(byKind(objects, 'Secret').map((secret) => secret.metadata.name)).not.toContain('acme-nats-auth');
    const config = String((find(objects, 'ConfigMap', 'acme-nats').data as Record<string, string>)['nats.conf']);
    expect(config).toMatch(
      /tls \{\s+cert_file: \/etc\/nats-tls\/tls\.crt\s+key_file: \/etc\/nats-tls\/tls\.key\s+ca_file: \/etc\/nats-tls\/ca\.crt/,
    );
    const server = podSpec(find(objects, 'StatefulSet', 'acme-nats'));
    expect(server.volumes).toEqual(expect.arrayContaining([{ name: 'tls', secret: { secretName: 'jetsaga-nats-tls' } }]));
    expect(value(server.containers[0]!.env ?? [], 'NATS_PASSWORD_ADMIN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'jetsaga-nats-auth',
      key: 'admin',
    });
    for (const name of [...NATS_CLIENTS, 'operator']) {
      const pod = podSpec(find(objects, 'Deployment', `acme-${name}`));
      const env = pod.containers[0]!.env ?? [];
      expect(value(env, 'NATS_PASSWORD')?.valueFrom?.secretKeyRef?.name, name).toBe('jetsaga-nats-auth');
      expect(value(env, 'NATS_TLS_CA')?.value, name).toBe('/etc/nats-ca/ca.crt');
      expect(pod.volumes, name).toEqual(
        expect.arrayContaining([
          { name: 'nats-ca', secret: { secretName: 'jetsaga-nats-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        ]),
      );
    }
  });
});
