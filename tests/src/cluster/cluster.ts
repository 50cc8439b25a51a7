import { devTokenSigner } from '@jetsaga/devstack';
import { type Kubectl, kubectlFor } from '@jetsaga/k8s-testbed';
import { connectNats, type NatsConnection } from '@jetsaga/platform';
import pg from 'pg';
import { type Api, apiClient } from '../support/api.js';

/**
 * The cluster that scripts/cluster/run.mjs started: its admin kubeconfig, the release's namespace, and loopback
 * port-forwards to the gateway, NATS and Postgres. Nothing else of the cluster is reachable from the host.
 */
export type ClusterUnderTest = {
  namespace: string;
  release: string;
  api: Api;
  gatewayUrl: string;
  kubectl: Kubectl;
  /** `kubectl get ... -o json`, parsed. */
  get<T = any>(args: string[]): Promise<T>;
  nats(): Promise<NatsConnection>;
  sql(): pg.Pool;
  close(): Promise<void>;
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the cluster tests with npm run test:cluster (scripts/cluster/run.mjs)`);
  return value;
}

export function clusterUnderTest(): ClusterUnderTest {
  const namespace = required('JETSAGA_CLUSTER_NAMESPACE');
  const kubectl = kubectlFor(required('JETSAGA_CLUSTER_KUBECTL'), required('KUBECONFIG'));
  const gatewayUrl = required('JETSAGA_CLUSTER_GATEWAY_URL');
  let nc: NatsConnection | undefined;
  let pool: pg.Pool | undefined;
  return {
    namespace,
    release: required('JETSAGA_CLUSTER_RELEASE'),
    // An admin token signed with the run's key pair, which the release's services trust (scripts/cluster/run.mjs).
    api: apiClient(gatewayUrl, {
      token: async () =>
        (await devTokenSigner(required('JETSAGA_CLUSTER_ISSUER_DIR'))).sign({ role: 'admin', sub: 'cluster-test', ttl: '6h' }),
    }),
    gatewayUrl,
    kubectl,
    get: async (args) => JSON.parse(await kubectl(['get', ...args, '-o', 'json'])),
    async nats() {
      // The port-forward is restarted when the NATS pod behind it goes; the client reconnects to the same port.
      // As the admin (the chart's generated password), over TLS verified by the run's CA when the release has it on.
      nc ??= await connectNats(required('JETSAGA_CLUSTER_NATS_URL'), 'cluster-test', {
        user: required('JETSAGA_CLUSTER_NATS_USER'),
        password: required('JETSAGA_CLUSTER_NATS_PASSWORD'),
        ...(process.env.JETSAGA_CLUSTER_NATS_CA ? { tlsCaFile: process.env.JETSAGA_CLUSTER_NATS_CA } : {}),
      });
      return nc;
    },
    sql() {
      pool ??= new pg.Pool({ connectionString: required('JETSAGA_CLUSTER_DATABASE_URL'), max: 2 });
      return pool;
    },
    async close() {
      await nc?.close();
      await pool?.end();
    },
  };
}

export type Pod = {
  metadata: { name: string; labels: Record<string, string>; uid: string; deletionTimestamp?: string };
  spec: {
    containers: Array<{
      name: string;
      image: string;
      imagePullPolicy: string;
      readinessProbe?: unknown;
      livenessProbe?: unknown;
      securityContext?: Record<string, any>;
    }>;
    securityContext?: Record<string, any>;
  };
  status: {
    phase: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ name: string; ready: boolean; restartCount: number }>;
  };
};

export function isReady(pod: Pod): boolean {
  return !pod.metadata.deletionTimestamp && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

export async function pods(cluster: ClusterUnderTest): Promise<Pod[]> {
  return (await cluster.get<{ items: Pod[] }>(['-n', cluster.namespace, 'pods'])).items;
}

/** The pods of one component of the release (`app.kubernetes.io/name`). */
export async function podsOf(cluster: ClusterUnderTest, name: string): Promise<Pod[]> {
  return (await pods(cluster)).filter((pod) => pod.metadata.labels['app.kubernetes.io/name'] === name);
}
