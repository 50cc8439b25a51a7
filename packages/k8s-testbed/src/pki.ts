import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLUSTER_NETWORK } from './host-safety.js';
import { API_PORT, NODE_NAME } from './layout.js';

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd, timeout: 60_000 });
}

/** A self-signed CA in `dir` (`ca.crt`, `ca.key`), valid two days: long enough for any run. */
export async function createCa(dir: string, commonName: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${commonName}`],
    dir,
  );
}

/** `<name>.crt` and `<name>.key` signed by the CA of `dir`, with `extensions` (an openssl extfile's lines). */
export async function signCertificate(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
}

/** The service-account token signing key pair (`sa.key`, `sa.pub`). */
export async function createServiceAccountKeys(dir: string): Promise<void> {
  await openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

/** The cluster's CA and the certificates signed by it (server certificates get their addresses as alternative names). */
async function clusterCertificates(dir: string): Promise<void> {
  const net = CLUSTER_NETWORK;
  await createCa(dir, 'jetsaga-cluster-ca');
  const apiNames = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost'];
  const apiAddresses = [net.nodeAddress, net.kubernetesServiceAddress, '127.0.0.1'];
  await signCertificate(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    `subjectAltName=${apiAddresses.map((ip) => `IP:${ip}`).join(',')},${apiNames.map((name) => `DNS:${name}`).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  await signCertificate(
    dir,
    'kubelet',
    `/CN=${NODE_NAME}`,
    `subjectAltName=IP:${net.nodeAddress},DNS:${NODE_NAME}\nextendedKeyUsage=serverAuth\n`,
  );
  // The API server's identity towards the kubelet (logs, exec, port-forward); the kubelet trusts the CA.
  await signCertificate(
    dir,
    'apiserver-kubelet-client',
    '/CN=kube-apiserver-kubelet-client/O=system:masters',
    'extendedKeyUsage=clientAuth\n',
  );
  await createServiceAccountKeys(dir);
}

type Identity = { name: string; user: string; groups: string[] };

/** One token per component, each a real identity for RBAC (and the Node authorizer for the kubelet). */
const IDENTITIES: Identity[] = [
  { name: 'admin', user: 'jetsaga-admin', groups: ['system:masters'] },
  { name: 'kubelet', user: `system:node:${NODE_NAME}`, groups: ['system:nodes'] },
  { name: 'kube-proxy', user: 'system:kube-proxy', groups: [] },
  { name: 'kube-controller-manager', user: 'system:kube-controller-manager', groups: [] },
  { name: 'kube-scheduler', user: 'system:kube-scheduler', groups: [] },
];

/** The token file for the API server (`tokens.csv`) and a kubeconfig per identity; returns the kubeconfigs' paths. */
async function writeKubeconfigs(dir: string, caPem: string): Promise<Record<string, string>> {
  const server = `https://${CLUSTER_NETWORK.nodeAddress}:${API_PORT}`;
  const lines: string[] = [];
  const paths: Record<string, string> = {};
  for (const identity of IDENTITIES) {
    const token = randomBytes(24).toString('hex');
    lines.push(`${token},${identity.user},${identity.user}${identity.groups.length ? `,"${identity.groups.join(',')}"` : ''}`);
    const path = join(dir, `${identity.name}.kubeconfig`);
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'jetsaga', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: identity.name, user: { token } }],
      contexts: [{ name: 'jetsaga', context: { cluster: 'jetsaga', user: identity.name, namespace: 'default' } }],
      'current-context': 'jetsaga',
    };
    await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 });
    paths[identity.name] = path;
  }
  await writeFile(join(dir, 'tokens.csv'), `${lines.join('\n')}\n`, { mode: 0o600 });
  return paths;
}

export type ClusterPki = {
  dir: string;
  /** `<dir>/<name>` for a file of the PKI (certificates, keys, `tokens.csv`). */
  file(name: string): string;
  /** The kubeconfig of one of IDENTITIES (admin, kubelet, kube-proxy, kube-controller-manager, kube-scheduler). */
  kubeconfigOf(identity: string): string;
};

/** Certificates, service-account keys, one token and kubeconfig per component, all in `dir`. */
export async function createClusterPki(dir: string): Promise<ClusterPki> {
  await clusterCertificates(dir);
  const kubeconfigs = await writeKubeconfigs(dir, await readFile(join(dir, 'ca.crt'), 'utf8'));
  return {
    dir,
    file: (name) => join(dir, name),
    kubeconfigOf: (identity) => {
      const path = kubeconfigs[identity];
      if (!path) throw new Error(`no kubeconfig for ${identity}`);
      return path;
    },
  };
}
