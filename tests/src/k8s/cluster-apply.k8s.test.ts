import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, waitFor } from '@jetsaga/devstack';
import { KubeClient, type KubeObject } from '@jetsaga/k8s-testbed';
import { parse } from 'yaml';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { helmTemplate } from './render.js';

const kube = new KubeClient(inject('kube'));
const helm = inject('helmBin');
const charts = inject('chartsDir');

async function crdsIn(dir: string): Promise<KubeObject[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.yaml'));
  return Promise.all(files.map(async (file) => parse(await readFile(join(dir, file), 'utf8')) as KubeObject));
}

async function restrictedNamespace(name: string): Promise<void> {
  const levels = { enforce: 'restricted', warn: 'restricted', audit: 'restricted' };
  const labels = Object.fromEntries(Object.entries(levels).map(([mode, level]) => [`pod-security.kubernetes.io/${mode}`, level]));
  await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
}

/** Applies every object server-side, returning what the API server warned about, per object. */
async function applyAll(objects: KubeObject[], namespace: string): Promise<{ object: string; status: string; warnings: string[] }[]> {
  const results = [];
  for (const object of objects) {
    const response = await kube.apply({ ...object, metadata: { ...object.metadata, namespace } }, namespace);
    results.push({ object: `${object.kind}/${object.metadata.name}`, status: String(response.status), warnings: response.warnings });
  }
  return results;
}

describe('the rendered umbrella chart on a real kube-apiserver (v1.36, restricted Pod Security)', () => {
  beforeAll(async () => {
    // The operator's CRDs, and minimal stand-ins for the monitoring CRDs the production values use.
    const crds = [...(await crdsIn(join(REPO_ROOT, 'charts/operator/crds'))), ...(await crdsIn(join(REPO_ROOT, 'k8s/crds/monitoring')))];
    for (const crd of crds) expect((await kube.apply(crd)).warnings, crd.metadata.name).toEqual([]);
    for (const crd of crds) await waitFor(`CRD ${crd.metadata.name} established`, () => kube.crdEstablished(crd.metadata.name), 30_000);
    kube.forgetDiscovery();
  });

  it.each([
    ['default', 'shop-local', [] as string[]],
    ['observability', 'shop-observed', ['values-observability.yaml']],
    ['production', 'shop-production', ['values-production.yaml']],
  ])('accepts every object of the %s render with no warning', async (_, namespace, values) => {
    await restrictedNamespace(namespace);
    const objects = await helmTemplate(helm, join(charts, 'jetsaga'), { namespace, values });
    expect(objects.length).toBeGreaterThan(40);
    const results = await applyAll(objects, namespace);
    expect(results.filter((result) => result.warnings.length > 0)).toEqual([]);
    // Read back: the objects are stored as rendered (server-side apply merged nothing away).
    const nats = await kube.get<{ spec: { replicas: number } }>(
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'jetsaga-nats' } },
      namespace,
    );
    expect(nats?.spec.replicas).toBe(3);
    const events = await kube.get<{ spec: { replicas: number; subjects: string[] } }>(
      { apiVersion: 'jetsaga.dev/v1alpha1', kind: 'EventStream', metadata: { name: 'events' } },
      namespace,
    );
    expect(events?.spec).toMatchObject({ replicas: 3, subjects: ['events.>'], storage: 'File' });
  });

  it('would have caught a pod template that breaks the restricted profile (the check can fail)', async () => {
    await restrictedNamespace('shop-negative');
    const objects = await helmTemplate(helm, join(charts, 'jetsaga'), {
      namespace: 'shop-negative',
      set: ['order.securityContext.capabilities=null', 'order.podSecurityContext.seccompProfile=null'],
    });
    const order = objects.find((object) => object.kind === 'Deployment' && object.metadata.name === 'jetsaga-order')!;
    const [result] = await applyAll([order], 'shop-negative');
    expect(result?.warnings.join('\n')).toMatch(/would violate PodSecurity.*restricted:latest/);
  });

  it('rejects topology resources that break the CRD schemas', async () => {
    await restrictedNamespace('shop-invalid');
    const bad: KubeObject[] = [
      {
        apiVersion: 'jetsaga.dev/v1alpha1',
        kind: 'EventStream',
        metadata: { name: 'bad-replicas' },
        spec: { name: 'X', subjects: ['x.>'], replicas: 7 },
      },
      {
        apiVersion: 'jetsaga.dev/v1alpha1',
        kind: 'EventStream',
        metadata: { name: 'bad-age' },
        spec: { name: 'X', subjects: ['x.>'], maxAge: 'forever' },
      },
      {
        apiVersion: 'jetsaga.dev/v1alpha1',
        kind: 'EventConsumer',
        metadata: { name: 'bad-backoff' },
        spec: { stream: 'X', durableName: 'x', filterSubjects: ['x.>'], maxDeliver: 2, backoff: ['1s', '5s'] },
      },
      { apiVersion: 'jetsaga.dev/v1alpha1', kind: 'Projection', metadata: { name: 'bad-version' }, spec: { version: 0 } },
    ];
    for (const object of bad) {
      await expect(kube.apply(object, 'shop-invalid'), object.metadata.name).rejects.toMatchObject({ response: { status: 422 } });
    }
  });
});
