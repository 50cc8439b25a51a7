import { join } from 'node:path';
import type { KubeObject } from '@jetsaga/k8s-testbed';
import { SERVICE_CHARTS } from '@jetsaga/k8s-testbed';
import { describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { byKind, find, helmTemplate, podSpec } from './render.js';

/**
 * No credential is a value in production (README, Security): the production values name Secrets the platform team
 * creates, the chart refuses to render outside the local profile while one is not named, and what it renders
 * holds no password, key or token of its own.
 */
const helm = inject('helmBin');
const chart = join(inject('chartsDir'), 'jetsaga');
const production = (set: string[] = []) =>
  helmTemplate(helm, chart, { release: 'acme', namespace: 'shop', values: ['values-production.yaml'], set });

/** Every value the rendered objects carry, as text, for searching. */
const text = (objects: KubeObject[]) => objects.map((object) => stringify(object)).join('\n---\n');

const REQUIRED = [
  [
    'global.database.existingSecrets.order',
    /global\.database\.existingSecrets\.<service> \(each service's own Postgres URL, its own role, [^)]*\) for order/,
  ],
  [
    'global.database.existingSecret',
    /global\.database\.existingSecret \(the backup's Postgres URL: a role that reads and restores every schema, no service's\)/,
  ],
  ['postgresExporter.existingSecret', /postgresExporter\.existingSecret \(the URL of a role granted pg_monitor\)/],
  ['global.audit.existingSecret', /global\.audit\.existingSecret \(the audit log's signing key/],
  ['global.gdpr.existingSecret', /global\.gdpr\.existingSecret \(the personal-data master key/],
  ['global.nats.auth.existingSecret', /global\.nats\.auth\.existingSecret \(the NATS users' passwords/],
] as const;

describe('secrets in the production values', () => {
  it('render with every credential from a Secret the release does not write, and no Secret of its own', async () => {
    const objects = await production();
    expect(byKind(objects, 'Secret').map((secret) => secret.metadata.name)).toEqual([]);
    for (const name of SERVICE_CHARTS) {
      const env = podSpec(find(objects, 'Deployment', `acme-${name}`)).containers[0]!.env ?? [];
      // A credential reaches a service only through a secretKeyRef, never as a literal value.
      for (const variable of env) {
        if (/PASSWORD|SECRET|TOKEN|KEY|DATABASE_URL/.test(variable.name))
          expect(variable.value, `${name} ${variable.name}`).toBeUndefined();
      }
      // Each service with a database connects as its own role, from a Secret no other service reads.
      const database = env.find((variable) => variable.name === 'DATABASE_URL');
      if (database) expect(database.valueFrom?.secretKeyRef, name).toEqual({ name: `jetsaga-${name}-database`, key: 'url' });
      else expect(['gateway', 'operator'], name).toContain(name);
    }
    const exporter = podSpec(find(objects, 'Deployment', 'acme-postgres-exporter')).containers[0]!.env ?? [];
    expect(exporter.find((variable) => variable.name === 'DATA_SOURCE_NAME')?.valueFrom?.secretKeyRef).toEqual({
      name: 'jetsaga-postgres-monitoring',
      key: 'url',
    });
    expect(text(objects)).not.toMatch(/jetsaga-local|:\/\/[^\s:/@]+:[^\s@/]+@/);
  });

  it.each(REQUIRED)('fail to render without %s, naming it', async (value, message) => {
    await expect(production([`${value}=`])).rejects.toThrow(message);
  });

  it('fail naming every missing Secret at once', async () => {
    const error = await production(REQUIRED.map(([value]) => `${value}=`)).then(
      () => undefined,
      (failure: Error) => failure,
    );
    for (const [, message] of REQUIRED) expect(error?.message).toMatch(message);
  });

  it('pass with Secrets of any name, and each service reads its own database one', async () => {
    const objects = await production([
      'global.database.existingSecrets.order=pg-order',
      'event-store.database.existingSecret=pg-events',
      'global.audit.existingSecret=a',
      'global.gdpr.existingSecret=g',
    ]);
    const env = podSpec(find(objects, 'Deployment', 'acme-order')).containers[0]!.env ?? [];
    expect(env.find((variable) => variable.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'pg-order', key: 'url' });
    const urlOf = (name: string) =>
      (podSpec(find(objects, 'Deployment', `acme-${name}`)).containers[0]!.env ?? []).find((variable) => variable.name === 'DATABASE_URL')
        ?.valueFrom?.secretKeyRef?.name;
    expect(urlOf('event-store')).toBe('pg-events');
    expect(urlOf('inventory')).toBe('jetsaga-inventory-database');
    // The personal-data master key (ADR 0052) reaches every service with a database from the named Secret.
    expect(env.find((variable) => variable.name === 'KEY_ENCRYPTION_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'g',
      key: 'master-key',
    });
  });

  it('the local profile needs none of them (a laptop cluster, the well-known local password)', async () => {
    const objects = await helmTemplate(helm, chart, { release: 'acme', namespace: 'shop' });
    for (const name of ['order', 'event-store', 'audit']) find(objects, 'Secret', `acme-${name}-database`);
    find(objects, 'Secret', 'acme-postgres-monitoring');
    // A master key of 32 random bytes, made on install and kept (helm lookup) across upgrades.
    const gdpr = find(objects, 'Secret', 'acme-gdpr') as KubeObject & { data: Record<string, string> };
    expect(Buffer.from(Buffer.from(gdpr.data['master-key']!, 'base64').toString(), 'base64')).toHaveLength(32);
    const env = podSpec(find(objects, 'Deployment', 'acme-payment')).containers[0]!.env ?? [];
    expect(env.find((variable) => variable.name === 'KEY_ENCRYPTION_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'acme-gdpr',
      key: 'master-key',
    });
  });
});
