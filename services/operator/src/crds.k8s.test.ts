import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@jetsaga/devstack';
import { ApiextensionsV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { CRD_DIGEST_ANNOTATION, readCrdManifests, upgradeCrds } from './crds.js';
import { kubeConfigFor, makeApiClient } from './kube.js';

const server = inject('kube');
const kubeConfig = kubeConfigFor(server.url, server.token, Buffer.from(server.caPem).toString('base64'));
// A group of this file's own: the chart's CRDs on the shared API server belong to the operator's tests.
const GROUP = 'crd-upgrade.test.jetsaga.dev';

/** A CRD of version `fields`: its spec allows exactly these string fields (anything else is pruned). */
function gadgets(fields: string[]) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `gadgets.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'jetsaga' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: 'Gadget', plural: 'gadgets', singular: 'gadget', listKind: 'GadgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: { spec: { type: 'object', properties: Object.fromEntries(fields.map((field) => [field, { type: 'string' }])) } },
            },
          },
        },
      ],
    },
  };
}

async function manifestsOf(crd: object) {
  const dir = await mkdtemp(join(tmpdir(), 'crds-'));
  await writeFile(join(dir, 'gadgets.yaml'), stringify(crd));
  return readCrdManifests(dir);
}

describe('the CRD upgrade step (the operator chart runs it before every install and upgrade)', () => {
  it("replaces an old CRD with the chart's: a new spec field is kept instead of pruned, and the CRD carries the files' sha256", async () => {
    const extensions = makeApiClient(kubeConfig, ApiextensionsV1Api);
    const objects = makeApiClient(kubeConfig, CustomObjectsApi);
    // What Helm's crds/ left from the previous version: no `colour` yet.
    await extensions.createCustomResourceDefinition({ body: gadgets(['size']) as never });
    const gadget = (name: string) => ({
      apiVersion: `${GROUP}/v1`,
      kind: 'Gadget',
      metadata: { name },
      spec: { size: 'L', colour: 'red' },
    });
    const create = (name: string) =>
      waitFor(
        'the CRD to be served',
        () =>
          objects
            .createNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: 'default', plural: 'gadgets', body: gadget(name) })
            .then(
              (created) => created as { spec: Record<string, string> },
              () => undefined,
            ),
        30_000,
        200,
      );
    expect((await create('before')).spec).toEqual({ size: 'L' });

    const manifests = await manifestsOf(gadgets(['size', 'colour']));
    expect(await upgradeCrds({ kubeConfig, manifests })).toEqual({ created: [], replaced: [`gadgets.${GROUP}`], unchanged: [] });
    const upgraded = await extensions.readCustomResourceDefinition({ name: `gadgets.${GROUP}` });
    expect(upgraded.metadata?.annotations?.[CRD_DIGEST_ANNOTATION]).toBe(manifests[0]?.digest);
    expect(upgraded.metadata?.labels).toMatchObject({ 'app.kubernetes.io/part-of': 'jetsaga' });
    await waitFor(
      'the new schema to be served',
      async () => ((await create(`after-${Date.now()}`)).spec.colour === 'red' ? true : undefined),
      30_000,
      200,
    );
    // Run again (every upgrade does): nothing to do.
    expect(await upgradeCrds({ kubeConfig, manifests })).toEqual({ created: [], replaced: [], unchanged: [`gadgets.${GROUP}`] });
    await extensions.deleteCustomResourceDefinition({ name: `gadgets.${GROUP}` });
  });
});
