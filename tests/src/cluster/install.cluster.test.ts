import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '@jetsaga/devstack';
import { CLUSTER_NETWORK, GUARD_CHAIN, NODE_NAME } from '@jetsaga/k8s-testbed';
import { EVENTS_STREAM } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterUnderTest, clusterUnderTest, isReady, type Pod, pods, podsOf } from './cluster.js';

const run = promisify(execFile);
const cluster: ClusterUnderTest = clusterUnderTest();
const { namespace, release } = cluster;

afterAll(async () => {
  await cluster.close();
});

/** True when `address` lies in the IPv4 CIDR `cidr`. */
function inCidr(address: string, cidr: string): boolean {
  const toNumber = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toNumber(address) / size) === Math.floor(toNumber(base) / size);
}

describe('helm install of the umbrella chart with values-ci.yaml', () => {
  it('runs every component, every pod Ready', async () => {
    const all = await pods(cluster);
    const names = new Set(all.map((pod) => pod.metadata.labels['app.kubernetes.io/name']));
    for (const name of ['gateway', 'order', 'inventory', 'payment', 'sales', 'support', 'event-store', 'operator', 'nats', 'postgres']) {
      expect(names, name).toContain(name);
    }
    expect(await podsOf(cluster, 'nats')).toHaveLength(3);
    expect(all.filter((pod) => !isReady(pod)).map((pod) => pod.metadata.name)).toEqual([]);
  });

  it('admits pods only at the restricted Pod Security level, and every pod of the release passed it', async () => {
    const ns = await cluster.get(['namespace', namespace]);
    expect(ns.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    // The enforcement is real: a root container without a seccomp profile is refused.
    const refused = await cluster
      .kubectl(['-n', namespace, 'run', 'intruder', '--image=localhost/jetsaga/pause:none', '--restart=Never', '--dry-run=server'])
      .then(
        () => '',
        (error: Error) => error.message,
      );
    expect(refused).toMatch(/violates PodSecurity "restricted/);
    for (const pod of await pods(cluster)) {
      expect(pod.spec.securityContext, pod.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const container of pod.spec.containers) {
        expect(container.securityContext, `${pod.metadata.name}/${container.name}`).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
  });

  it('pulls nothing: every image is a local build with imagePullPolicy Never, every container probed', async () => {
    for (const pod of await pods(cluster)) {
      for (const container of pod.spec.containers) {
        const where = `${pod.metadata.name}/${container.name}`;
        expect(container.image, where).toMatch(/^localhost\/jetsaga\//);
        expect(container.imagePullPolicy, where).toBe('Never');
        expect(container.readinessProbe, where).toBeDefined();
        expect(container.livenessProbe, where).toBeDefined();
      }
    }
  });

  it('keeps the production safety nets: a NetworkPolicy for every pod, a PodDisruptionBudget for every service and NATS', async () => {
    const budgets = (await cluster.get<{ items: any[] }>(['-n', namespace, 'poddisruptionbudgets'])).items;
    const policies = (await cluster.get<{ items: any[] }>(['-n', namespace, 'networkpolicies'])).items;
    const selects = (selector: { matchLabels?: Record<string, string> }, pod: Pod) =>
      Object.entries(selector.matchLabels ?? {}).every(([key, value]) => pod.metadata.labels[key] === value);
    for (const pod of await pods(cluster)) {
      // The chart's single Postgres and its Mailpit are for local clusters only (production uses an external database
      // and a real mail provider): no budget.
      const budgeted = !['postgres', 'mailpit'].includes(pod.metadata.labels['app.kubernetes.io/name'] ?? '');
      expect(
        budgets.some((budget) => selects(budget.spec.selector, pod)),
        `PDB for ${pod.metadata.name}`,
      ).toBe(budgeted);
      const policy = policies.find((candidate) => selects(candidate.spec.podSelector, pod));
      expect(policy?.spec.policyTypes, `NetworkPolicy for ${pod.metadata.name}`).toEqual(['Ingress', 'Egress']);
    }
  });

  it('forms one NATS cluster: EVENTS has three replicas, all current', async () => {
    const jsm = await jetstreamManager(await cluster.nats());
    const info = await waitFor(
      'EVENTS with a leader and two current replicas',
      async () => {
        const stream = await jsm.streams.info(EVENTS_STREAM);
        const replicas = stream.cluster?.replicas ?? [];
        return stream.cluster?.leader && replicas.length === 2 && replicas.every((replica) => replica.current) ? stream : undefined;
      },
      120_000,
      500,
    );
    expect(info.config.num_replicas).toBe(3);
    const servers = new Set([info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((replica) => replica.name)]);
    expect(servers).toEqual(new Set([`${release}-nats-0`, `${release}-nats-1`, `${release}-nats-2`]));
  });

  it('runs the operator in-cluster: every topology resource Ready for its current generation, the Lease held', async () => {
    for (const kind of ['eventstreams', 'eventconsumers']) {
      const items = await waitFor(
        `every ${kind} Ready`,
        async () => {
          const list = (await cluster.get<{ items: any[] }>(['-n', namespace, kind])).items;
          const ready = list.filter((item) =>
            item.status?.conditions?.some(
              (c: any) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === item.metadata.generation,
            ),
          );
          return list.length > 0 && ready.length === list.length ? list : undefined;
        },
        180_000,
        1_000,
      );
      expect(items.length).toBeGreaterThan(0);
    }
    const lease = await cluster.get(['-n', namespace, 'lease', 'jetsaga-operator']);
    const operators = (await podsOf(cluster, 'operator')).map((pod) => pod.metadata.name);
    expect(operators).toContain(lease.spec.holderIdentity);
  });

  it('gives the operator least privilege: its own kinds and Lease in its namespace, nothing else', async () => {
    const as = ['--as', `system:serviceaccount:${namespace}:${release}-operator`];
    const can = async (...args: string[]) =>
      (await cluster.kubectl(['auth', 'can-i', ...args, ...as]).catch((error: Error) => error.message)).trim().startsWith('yes');
    expect(await can('patch', 'eventstreams.jetsaga.dev', '-n', namespace)).toBe(true);
    expect(await can('patch', 'eventconsumers.jetsaga.dev/status', '-n', namespace)).toBe(true);
    expect(await can('get', 'secrets', '-n', namespace)).toBe(false);
    expect(await can('list', 'pods', '-n', namespace)).toBe(false);
    expect(await can('list', 'eventstreams.jetsaga.dev', '-n', 'kube-system')).toBe(false);
    expect(await can('delete', 'eventstreams.jetsaga.dev', '-n', namespace)).toBe(false);
  });

  it('answers through the gateway behind kubectl port-forward on loopback', async () => {
    expect(new URL(cluster.gatewayUrl).hostname).toBe('127.0.0.1');
    const ready = await fetch(`${cluster.gatewayUrl}/readyz`);
    expect(ready.status).toBe(200);
  });
});

describe('the cluster stays on this machine', () => {
  it('puts the node address on a link the run created, with no port to send anything through', async () => {
    const node = await cluster.get(['node', NODE_NAME]);
    expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: CLUSTER_NETWORK.nodeAddress });
    const { stdout } = await run('ip', ['-d', '-o', 'addr', 'show', 'dev', CLUSTER_NETWORK.nodeLink]);
    expect(stdout).toContain(`${CLUSTER_NETWORK.nodeAddress}/32`);
    const link = await run('ip', ['-d', '-o', 'link', 'show', 'dev', CLUSTER_NETWORK.nodeLink]);
    // A dummy link, or a bridge without ports where the kernel has no dummy driver.
    expect(link.stdout).toMatch(/\b(dummy|bridge)\b/);
    expect(await run('ip', ['-o', 'link', 'show', 'master', CLUSTER_NETWORK.nodeLink]).then((r) => r.stdout.trim())).toBe('');
  });

  it('keeps pods and Services inside 198.18.0.0/15, with the service range blackholed', async () => {
    for (const pod of await pods(cluster)) expect(inCidr(pod.status.podIP ?? '', CLUSTER_NETWORK.podCidr), pod.metadata.name).toBe(true);
    const services = (await cluster.get<{ items: any[] }>(['services', '--all-namespaces'])).items;
    for (const service of services.filter((s) => s.spec.clusterIP !== 'None')) {
      expect(inCidr(service.spec.clusterIP, CLUSTER_NETWORK.serviceCidr), service.metadata.name).toBe(true);
    }
    expect(inCidr(CLUSTER_NETWORK.serviceCidr.split('/')[0] as string, CLUSTER_NETWORK.block)).toBe(true);
    const { stdout } = await run('ip', ['route', 'show', 'type', 'blackhole']);
    expect(stdout).toContain(`blackhole ${CLUSTER_NETWORK.serviceCidr}`);
  });

  it('drops forwarded pod traffic that is not for a pod, before any rule of kube-proxy', async () => {
    const { stdout } = await run('iptables', ['-w', '-S', 'FORWARD']);
    expect(stdout.split('\n').find((line) => line.startsWith('-A FORWARD'))).toBe(`-A FORWARD -j ${GUARD_CHAIN}`);
    const guard = await run('iptables', ['-w', '-S', GUARD_CHAIN]);
    expect(guard.stdout).toContain(`-A ${GUARD_CHAIN} -i ${CLUSTER_NETWORK.bridge} -j DROP`);
    // kube-proxy is in charge of every Service: the kubernetes Service and the DNS Service are rewritten.
    const nat = await run('iptables-save', ['-t', 'nat']);
    expect(nat.stdout).toContain(`-d ${CLUSTER_NETWORK.kubernetesServiceAddress}/32`);
    expect(nat.stdout).toContain(`-d ${CLUSTER_NETWORK.dnsServiceAddress}/32`);
  });

  it('resolves only cluster names: the pods ask the cluster DNS alone, which forwards nothing', async () => {
    const corefile = (await cluster.get(['-n', 'kube-system', 'configmap', 'coredns'])).data.Corefile as string;
    expect(corefile).not.toMatch(/\bforward\b/);
    const gateway = ((await podsOf(cluster, 'gateway'))[0] as Pod).metadata.name;
    const exec = (...command: string[]) => cluster.kubectl(['-n', namespace, 'exec', gateway, '--', ...command]);
    const resolvConf = await exec('cat', '/etc/resolv.conf');
    expect(resolvConf.match(/^nameserver\s+\S+/gm)).toEqual([`nameserver ${CLUSTER_NETWORK.dnsServiceAddress}`]);
    const lookup = (name: string) =>
      exec(
        'node',
        '-e',
        `require('node:dns').promises.lookup(${JSON.stringify(name)}).then((a) => console.log(a.address), (e) => console.log(e.code))`,
      );
    expect((await lookup(`${release}-order`)).trim()).toMatch(/^198\.19\.0\.\d+$/);
    expect((await lookup('example.org')).trim()).toBe('ENOTFOUND');
  });
});
