import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { freePort, terminate, waitFor } from '@jetsaga/devstack';
import { createCa, createServiceAccountKeys, signCertificate } from './pki.js';

export type KubeApiserverOptions = {
  apiserverBin: string;
  etcdBin: string;
  /** Work directory: etcd data, certificates, token file, logs, kubeconfig. */
  dir: string;
};

export type KubeApiserver = {
  /** https://127.0.0.1:<port> */
  url: string;
  /** Bearer token of a system:masters user. */
  token: string;
  /** PEM of the CA that signed the serving certificate. */
  caPem: string;
  /** A kubeconfig file for helm and kubectl. */
  kubeconfig: string;
  stop(): Promise<void>;
};

export type KubeResponse = { status: number; body: string; warnings: string[]; headers: IncomingHttpHeaders };

/**
 * How long the checks keep trying when the API server answers 429 (API Priority and Fairness, or max-in-flight on a
 * busy machine): at most `attempts` requests and `totalMs` of waiting, each wait what `Retry-After` asks (capped),
 * or a short doubling back-off without one. Any other status is returned at once.
 */
export type ThrottlePolicy = { attempts: number; totalMs: number; maxWaitMs: number; backoffMs: number };

export const THROTTLE_POLICY: ThrottlePolicy = { attempts: 8, totalMs: 30_000, maxWaitMs: 10_000, backoffMs: 200 };

/** The wait before attempt `attempt + 1`, from a 429's Retry-After (seconds or an HTTP date). */
export function throttleDelayMs(retryAfter: string | undefined, attempt: number, policy: ThrottlePolicy = THROTTLE_POLICY): number {
  const backoff = Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.maxWaitMs);
  if (retryAfter === undefined || retryAfter.trim() === '') return backoff;
  const seconds = Number(retryAfter);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
  return Number.isNaN(ms) ? backoff : Math.min(Math.max(ms, 0), policy.maxWaitMs);
}

function sendOnce(
  server: Pick<KubeApiserver, 'url' | 'token' | 'caPem'>,
  method: string,
  path: string,
  body?: { contentType: string; text: string },
): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${server.token}`, accept: 'application/json' };
    if (body) headers['content-type'] = body.contentType;
    const req = request(new URL(path, server.url), { method, ca: server.caPem, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const raw = res.headers.warning;
        const warnings = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
        resolve({ status: res.statusCode ?? 0, body: text, warnings, headers: res.headers });
      });
    });
    req.once('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(body?.text);
  });
}

/**
 * One HTTPS request to the API server with its CA and the admin token, sent again after a 429 within
 * THROTTLE_POLICY. `warnings` are the API server's Warning headers (deprecations, Pod Security violations in
 * audit/warn mode, unknown fields), which the checks require to be empty.
 */
export async function kubeRequest(
  server: Pick<KubeApiserver, 'url' | 'token' | 'caPem'>,
  method: string,
  path: string,
  body?: { contentType: string; text: string },
  policy: ThrottlePolicy = THROTTLE_POLICY,
): Promise<KubeResponse> {
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    const response = await sendOnce(server, method, path, body);
    if (response.status !== 429 || attempt >= policy.attempts) return response;
    const retryAfter = response.headers['retry-after'];
    const delay = throttleDelayMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, attempt, policy);
    if (waited + delay > policy.totalMs) return response;
    await new Promise((resolve) => setTimeout(resolve, delay));
    waited += delay;
  }
}

export function kubeGet(server: Pick<KubeApiserver, 'url' | 'token' | 'caPem'>, path: string): Promise<KubeResponse> {
  return kubeRequest(server, 'GET', path);
}

/** A CA, a serving certificate for 127.0.0.1/localhost, and the service-account signing key pair. */
async function makeCertificates(dir: string): Promise<void> {
  await createCa(dir, 'jetsaga-test-ca');
  await signCertificate(dir, 'server', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n');
  await createServiceAccountKeys(dir);
}

function launch(bin: string, args: string[], log: string): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(log, { flags: 'a' });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

/**
 * etcd and kube-apiserver on loopback: RBAC authorization, an admin bearer token, real
 * service-account keys. No controller-manager or scheduler: objects are stored and validated (admission, Pod
 * Security, CRD schemas, server-side apply), pods are never run.
 */
export async function startKubeApiserver(options: KubeApiserverOptions): Promise<KubeApiserver> {
  const { dir } = options;
  const certs = join(dir, 'certs');
  await makeCertificates(certs);
  const token = randomBytes(24).toString('hex');
  await writeFile(join(dir, 'tokens.csv'), `${token},jetsaga-admin,jetsaga-admin,"system:masters"\n`);

  const etcdPort = await freePort();
  const peerPort = await freePort();
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = launch(
    options.etcdBin,
    [
      '--name=jetsaga-test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=jetsaga-test=http://127.0.0.1:${peerPort}`,
      // Throwaway data on a shared two-core machine: fsync buys nothing here.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    join(dir, 'etcd.log'),
  );
  try {
    await waitFor('etcd', async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000);
  } catch (error) {
    await terminate(etcd, 'SIGKILL');
    throw error;
  }

  const port = await freePort();
  const apiserver = launch(
    options.apiserverBin,
    [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${certs}`,
      `--tls-cert-file=${join(certs, 'server.crt')}`,
      `--tls-private-key-file=${join(certs, 'server.key')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      `--service-account-key-file=${join(certs, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(certs, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--authorization-mode=RBAC',
      // A range of the benchmarking block, never routed anywhere; no Service address is ever used here anyway.
      '--service-cluster-ip-range=198.18.128.0/24',
      // API Priority and Fairness on, as on every real cluster: the operator's checks throttle it on purpose.
    ],
    join(dir, 'kube-apiserver.log'),
  );
  const caPem = await readFile(join(certs, 'ca.crt'), 'utf8');
  const url = `https://127.0.0.1:${port}`;
  const stop = async () => {
    // With etcd gone first, the API server may never exit on SIGTERM.
    await terminate(apiserver, 'SIGKILL');
    await terminate(etcd, 'SIGTERM');
  };
  try {
    await waitFor(
      `kube-apiserver on ${url} (log: ${join(dir, 'kube-apiserver.log')})`,
      async () => {
        if (apiserver.exitCode !== null) throw new Error(`kube-apiserver exited with ${apiserver.exitCode}`);
        return (await kubeGet({ url, token, caPem }, '/readyz')).status === 200;
      },
      90_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: jetsaga-test`,
      `  cluster: { server: "${url}", certificate-authority-data: "${Buffer.from(caPem).toString('base64')}" }`,
      'users:',
      `- name: jetsaga-admin`,
      `  user: { token: "${token}" }`,
      'contexts:',
      '- name: jetsaga-test',
      '  context: { cluster: jetsaga-test, user: jetsaga-admin }',
      'current-context: jetsaga-test',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { url, token, caPem, kubeconfig, stop };
}
