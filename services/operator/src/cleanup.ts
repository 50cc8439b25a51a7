import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, KINDS, type KindName, VERSION } from './constants.js';
import { isNotFoundStatus, makeApiClient } from './kube.js';

/** Consumers before streams: a stream's deletion takes its consumers in JetStream with it. */
const ORDER: KindName[] = ['EventConsumer', 'EventStream', 'Projection'];

export type CleanupReport = { deleted: Record<KindName, number>; ms: number };

/**
 * Deletes every custom resource of the namespace and waits until they are gone, i.e. until the operator has run
 * their finalizers (deleting the JetStream objects, or keeping them under preventDelete). The chart runs this as a
 * pre-delete hook: `helm uninstall` would otherwise remove the operator and NATS in the same pass as resources whose
 * finalizer only the operator can remove, and they would stay Terminating for ever.
 */
export async function deleteCustomResources(options: {
  kubeConfig: KubeConfig;
  namespace: string;
  timeoutMs: number;
  pollMs?: number;
  log?: (message: string) => void;
}): Promise<CleanupReport> {
  const { kubeConfig, namespace, timeoutMs } = options;
  const api = makeApiClient(kubeConfig, CustomObjectsApi);
  const started = Date.now();
  const deadline = started + timeoutMs;
  const list = async (kind: KindName) =>
    (
      (await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS[kind].plural })) as {
        items: { metadata: { name: string; deletionTimestamp?: string } }[];
      }
    ).items;
  const deleted = { EventConsumer: 0, EventStream: 0, Projection: 0 } satisfies Record<KindName, number>;
  for (const kind of ORDER) {
    for (const item of await list(kind)) {
      if (item.metadata.deletionTimestamp) continue;
      try {
        await api.deleteNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: KINDS[kind].plural,
          name: item.metadata.name,
        });
        deleted[kind] += 1;
      } catch (error) {
        if (!isNotFoundStatus(error)) throw error;
      }
    }
    options.log?.(`${kind}: ${deleted[kind]} deleted, waiting for their finalizers`);
    for (;;) {
      const left = await list(kind);
      if (left.length === 0) break;
      if (Date.now() > deadline)
        throw new Error(
          `${left.length} ${kind} still present after ${timeoutMs} ms (${left.map((item) => item.metadata.name).join(', ')}): is the operator running?`,
        );
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
    }
  }
  return { deleted, ms: Date.now() - started };
}
