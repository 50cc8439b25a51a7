import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '@jetsaga/devstack';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterUnderTest, clusterUnderTest, pods } from './cluster.js';

const run = promisify(execFile);
const cluster: ClusterUnderTest = clusterUnderTest();
const { namespace, release } = cluster;
const FINALIZER = 'jetsaga.dev/jetstream-cleanup';
type Resource = { kind: string; metadata: { name: string; finalizers?: string[]; deletionTimestamp?: string } };

afterAll(async () => {
  await cluster.close();
});

describe('helm uninstall (last: it removes the release)', () => {
  it("deletes the custom resources first (the operator chart's pre-delete hook): nothing is left Terminating", async () => {
    const helm = process.env.JETSAGA_CLUSTER_HELM;
    if (!helm) throw new Error('JETSAGA_CLUSTER_HELM is not set: run with npm run test:cluster');
    const resources = async () =>
      (await cluster.get<{ items: Resource[] }>(['-n', namespace, 'eventstreams,eventconsumers,projections'])).items;
    // What the hook has to deal with: the topology, each stream and consumer held by the operator's finalizer.
    const before = await resources();
    expect(before.filter((item) => item.kind === 'EventStream').length).toBeGreaterThanOrEqual(4);
    for (const item of before.filter((resource) => resource.kind !== 'Projection'))
      expect(item.metadata.finalizers, `${item.kind} ${item.metadata.name}`).toContain(FINALIZER);
    // The pods left over by the earlier suites (none should be Terminating still) must not hide what the uninstall leaves.
    await cluster.close();

    const started = Date.now();
    const { stdout, stderr } = await run(helm, ['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '5m'], {
      env: { ...process.env },
      timeout: 6 * 60_000,
    });
    const uninstallMs = Date.now() - started;
    expect(`${stdout}${stderr}`).toMatch(/uninstalled/);
    expect(await resources()).toEqual([]);
    await waitFor('every pod of the release gone', async () => ((await pods(cluster)).length === 0 ? true : undefined), 120_000, 1000);
    const left = (
      await cluster.get<{ items: Resource[] }>([
        '-n',
        namespace,
        'all,networkpolicies,poddisruptionbudgets,roles,rolebindings,serviceaccounts,leases,jobs',
      ])
    ).items
      .filter((item) => !(item.kind === 'ServiceAccount' && item.metadata.name === 'default'))
      .filter((item) => item.kind !== 'Lease');
    expect(left.map((item) => `${item.kind}/${item.metadata.name}`)).toEqual([]);
    console.log(`[uninstall] helm uninstall --wait took ${(uninstallMs / 1000).toFixed(1)} s for ${before.length} custom resources`);
  });
});
