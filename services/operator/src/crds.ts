import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiextensionsV1Api, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { isNotFoundStatus, makeApiClient } from './kube.js';

/** Set on each CRD this step wrote: the sha256 of the manifest it came from (what a reader compares with the chart's). */
export const CRD_DIGEST_ANNOTATION = 'jetsaga.dev/crd-sha256';

export type CrdManifest = { file: string; digest: string; crd: V1CustomResourceDefinition };

/** The CustomResourceDefinitions of a directory of manifests (the chart's crds/, mounted from a ConfigMap). */
export async function readCrdManifests(dir: string): Promise<CrdManifest[]> {
  const manifests: CrdManifest[] = [];
  for (const file of (await readdir(dir)).filter((name) => /\.ya?ml$/.test(name)).sort()) {
    const text = await readFile(join(dir, file), 'utf8');
    const digest = createHash('sha256').update(text).digest('hex');
    for (const document of parseAllDocuments(text)) {
      const crd = document.toJS() as V1CustomResourceDefinition | null;
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.metadata?.name) throw new Error(`${file}: not a CustomResourceDefinition`);
      manifests.push({ file, digest, crd });
    }
  }
  return manifests;
}

export type CrdUpgradeReport = { created: string[]; replaced: string[]; unchanged: string[] };

/**
 * Brings the cluster's CRDs to the chart's: Helm installs crds/ once and never upgrades it, so a `helm upgrade` runs
 * this first (a pre-install/pre-upgrade hook). An existing CRD is replaced whole (spec and the chart's labels and
 * annotations; its other metadata kept), so a field removed from the schema is removed in the cluster too; a missing
 * one is created. Served versions are never dropped here: the API server refuses a CRD that stops serving a version
 * still stored (status.storedVersions), which is the guard a real migration needs.
 */
export async function upgradeCrds(options: {
  kubeConfig: KubeConfig;
  manifests: readonly CrdManifest[];
  log?: (message: string) => void;
}): Promise<CrdUpgradeReport> {
  const api = makeApiClient(options.kubeConfig, ApiextensionsV1Api);
  const report: CrdUpgradeReport = { created: [], replaced: [], unchanged: [] };
  for (const { crd, digest } of options.manifests) {
    const name = crd.metadata?.name as string;
    const annotations = { ...crd.metadata?.annotations, [CRD_DIGEST_ANNOTATION]: digest };
    let current: V1CustomResourceDefinition | undefined;
    try {
      current = await api.readCustomResourceDefinition({ name });
    } catch (error) {
      if (!isNotFoundStatus(error)) throw error;
    }
    if (!current) {
      await api.createCustomResourceDefinition({ body: { ...crd, metadata: { ...crd.metadata, annotations } } });
      report.created.push(name);
      options.log?.(`${name}: created`);
      continue;
    }
    if (current.metadata?.annotations?.[CRD_DIGEST_ANNOTATION] === digest) {
      report.unchanged.push(name);
      continue;
    }
    const body: V1CustomResourceDefinition = {
      ...crd,
      metadata: {
        ...current.metadata,
        labels: { ...current.metadata?.labels, ...crd.metadata?.labels },
        annotations: { ...current.metadata?.annotations, ...annotations },
      },
      spec: crd.spec,
    };
    delete body.status;
    // resourceVersion kept from the read: a concurrent writer makes this fail (409) rather than be overwritten.
    await api.replaceCustomResourceDefinition({ name, body });
    report.replaced.push(name);
    options.log?.(`${name}: replaced (sha256 ${digest.slice(0, 12)})`);
  }
  return report;
}
