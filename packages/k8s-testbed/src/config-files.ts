import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLUSTER_NETWORK } from './host-safety.js';
import { CNI_NETWORK, NODE_NAME } from './layout.js';
import type { ClusterPki } from './pki.js';

/** The package's assets/: configuration templates and manifests, kept as data files rather than strings in code. */
const ASSETS = fileURLToPath(new URL('../assets/', import.meta.url));

/** An asset with its `{{name}}` placeholders filled in; a placeholder without a value is an error, not an empty string. */
export async function fillAsset(file: string, values: Record<string, string>): Promise<string> {
  const template = await readFile(join(ASSETS, file), 'utf8');
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`assets/${file}: no value for {{${name}}}`);
    return value;
  });
}

/** containerd's config.toml: its state under `dir`, the CRI plugin on `pauseImage`. */
export function containerdConfig(dir: string, pauseImage: string): Promise<string> {
  return fillAsset('containerd.toml', { dir, pauseImage });
}

/** CoreDNS (assets/coredns.yaml) at the cluster's DNS service address, running `image`. */
export function corednsManifests(image: string): Promise<string> {
  return fillAsset('coredns.yaml', { image, dnsServiceAddress: CLUSTER_NETWORK.dnsServiceAddress });
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** The pods' network: a bridge with host-local addresses, without masquerade. */
export function cniConfig(ipamDir: string): string {
  const net = CLUSTER_NETWORK;
  return json({
    cniVersion: '0.4.0',
    name: CNI_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: net.bridge,
        isGateway: true,
        // No masquerade: pod traffic has nowhere to go but pods and the node (see the guard chain).
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: net.podCidr, gateway: net.podGateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: ipamDir,
        },
      },
    ],
  });
}

export function kubeletConfig(dir: string, pki: ClusterPki, socket: string): string {
  const net = CLUSTER_NETWORK;
  return json({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: net.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: net.nodeAddress,
    healthzPort: 10248,
    tlsCertFile: pki.file('kubelet.crt'),
    tlsPrivateKeyFile: pki.file('kubelet.key'),
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: pki.file('ca.crt') } },
    // Only holders of a certificate from the cluster's CA get past authentication: the API server.
    authorization: { mode: 'AlwaysAllow' },
    containerRuntimeEndpoint: `unix://${socket}`,
    // cgroup v1 (hybrid) on this kind of machine: the kubelet refuses to start on v1 without this.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    clusterDNS: [net.dnsServiceAddress],
    clusterDomain: 'cluster.local',
    // The host's resolver is not the pods' business (and its search domains would leak names off the machine).
    resolvConf: join(dir, 'resolv.conf'),
    podLogsDir: join(dir, 'pod-logs'),
    rotateCertificates: false,
    serializeImagePulls: false,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%', 'nodefs.inodesFree': '2%' },
    maxPods: 110,
  });
}

export function kubeProxyConfig(kubeconfig: string): string {
  const net = CLUSTER_NETWORK;
  return json({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    hostnameOverride: NODE_NAME,
    bindAddress: net.nodeAddress,
    healthzBindAddress: `${net.nodeAddress}:10256`,
    metricsBindAddress: `${net.nodeAddress}:10249`,
    mode: 'iptables',
    clusterCIDR: net.podCidr,
    detectLocalMode: 'ClusterCIDR',
    // NodePorts answer on the node address only, never on 127.0.0.1 (which would need route_localnet).
    nodePortAddresses: [`${net.nodeAddress}/32`],
    iptables: { localhostNodePorts: false, syncPeriod: '30s', minSyncPeriod: '1s' },
    // Zero: leave the host's conntrack table size and timeouts as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    oomScoreAdj: 0,
  });
}

/** The namespace of the cluster test's trace backend (assets/jaeger.yaml), beside the release's. */
export const TRACING_NAMESPACE = 'jetsaga-tracing';

/** Jaeger v2 in TRACING_NAMESPACE, running `image`: OTLP at `http://jaeger.<namespace>.svc:4318`, queries on 16686. */
export function jaegerManifests(image: string): Promise<string> {
  return fillAsset('jaeger.yaml', { image, namespace: TRACING_NAMESPACE });
}
