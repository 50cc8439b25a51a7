import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from '@jetsaga/devstack';
import { devTokenSigner } from '@jetsaga/devstack';
import type { ClusterUnderTest } from './cluster.js';

/**
 * Load from inside the cluster: a pod of the app image runs this script (`kubectl exec`, fed on stdin), calling the
 * gateway through its Service as any client in the cluster does (kube-proxy picks a Ready endpoint per connection).
 * The tests' own port-forward sticks to one pod and breaks with it, so it cannot tell whether a rollout drops requests.
 * Open loop: a saga (cart, line, checkout) starts every 1/rate s whatever the previous ones do; a 429 of the gateway's
 * admission control is sent again after its Retry-After (it changed nothing); any other 5xx, a lost connection or a
 * timeout is a failed request, recorded with when it happened. A line "stop" on stdin ends the load: the sagas under
 * way finish, and the script prints one line `RESULT <json>`.
 */
const DRIVER = String.raw`
const cfg = JSON.parse(process.argv[1]);
const started = Date.now();
const result = { requests: 0, failed: 0, timedOut: 0, throttled: 0, failures: [], sagas: 0, orders: [], slowestMs: 0 };
let stopping = false;
let inFlight = 0;
process.stdin.on('data', (chunk) => { if (String(chunk).includes('stop')) stopping = true; });
process.stdin.on('end', () => { stopping = true; });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
async function call(method, path, body) {
  for (;;) {
    result.requests++;
    const t = Date.now();
    try {
      const response = await fetch(cfg.target + path, {
        method,
        headers: { authorization: 'Bearer ' + cfg.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(20000),
      });
      const text = await response.text();
      result.slowestMs = Math.max(result.slowestMs, Date.now() - t);
      if (response.status === 429) {
        result.throttled++;
        await sleep(Number(response.headers.get('retry-after') ?? '1') * 1000);
        continue;
      }
      if (response.status >= 500) throw new Error(response.status + ' ' + text.slice(0, 200));
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    } catch (error) {
      result.failed++;
      if (error && error.name === 'TimeoutError') result.timedOut++;
      if (result.failures.length < 20) result.failures.push({ atMs: t - started, request: method + ' ' + path.replace(/[0-9a-f-]{36}/g, ':id'), error: String(error && error.cause ? error.message + ': ' + error.cause : error) });
      return undefined;
    }
  }
}
async function saga(i) {
  const customerId = cfg.customers[i % cfg.customers.length];
  const productId = cfg.products[i % cfg.products.length];
  const cart = await call('POST', '/api/carts', { customerId });
  if (cart?.status !== 201) return;
  const line = await call('POST', '/api/carts/' + cart.body.id + '/items', { productId, quantity: 1 });
  if (line?.status !== 200) return;
  const checkout = await call('POST', '/api/carts/' + cart.body.id + '/checkout');
  if (checkout?.status === 202) {
    result.sagas++;
    result.orders.push(checkout.body.orderId);
  } else if (checkout) {
    result.failed++;
    if (result.failures.length < 20) result.failures.push({ atMs: Date.now() - started, request: 'checkout', error: 'status ' + checkout.status });
  }
}
(async () => {
  const running = new Set();
  console.log('STARTED');
  for (let i = 0; !stopping && Date.now() - started < cfg.maxMs; i++) {
    await sleep(started + (i * 1000) / cfg.rate - Date.now());
    if (inFlight >= cfg.maxInFlight) continue;
    inFlight++;
    const p = saga(i).finally(() => { inFlight--; running.delete(p); });
    running.add(p);
  }
  await Promise.all(running);
  console.log('RESULT ' + JSON.stringify({ ...result, ms: Date.now() - started }));
  process.exit(0);
})();
`;

export type LoadResult = {
  requests: number;
  failed: number;
  /** Of the failed: no answer within 20 s. */
  timedOut: number;
  throttled: number;
  failures: Array<{ atMs: number; request: string; error: string }>;
  sagas: number;
  orders: string[];
  slowestMs: number;
  ms: number;
};

export type Load = { startedAt: number; sagasSoFar(): number; stop(): Promise<LoadResult> };

/** The pod the load runs in: the app image, sleeping, as the restricted Pod Security level wants it. */
async function loaderPod(cluster: ClusterUnderTest, name: string): Promise<void> {
  const image = process.env.JETSAGA_CLUSTER_APP_IMAGE ?? 'localhost/jetsaga/app:ci';
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: cluster.namespace,
      labels: { 'app.kubernetes.io/name': 'load', 'app.kubernetes.io/part-of': 'jetsaga-tests' },
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'load',
          image,
          imagePullPolicy: 'Never',
          command: ['sleep', '3600'],
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  };
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(pod));
  await cluster.kubectl(['-n', cluster.namespace, 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=120s']);
}

/** Removes the load pod (the tests' pods must not outlive them: the uninstall test counts what is left). */
export async function removeLoader(cluster: ClusterUnderTest, name: string): Promise<void> {
  await cluster.kubectl(['-n', cluster.namespace, 'delete', 'pod', name, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

/** Starts sagas at `rate` per second against the gateway's Service, from a pod in the cluster, until stop(). */
export async function startLoad(
  cluster: ClusterUnderTest,
  options: { name: string; rate: number; customers: string[]; products: string[]; maxMs?: number },
): Promise<Load> {
  await loaderPod(cluster, options.name);
  const token = await (
    await devTokenSigner(process.env.JETSAGA_CLUSTER_ISSUER_DIR as string)
  ).sign({
    role: 'admin',
    sub: 'cluster-load',
    ttl: '1h',
  });
  const config = {
    target: `http://${cluster.release}-gateway.${cluster.namespace}.svc.cluster.local:8080`,
    token,
    rate: options.rate,
    maxInFlight: 50,
    maxMs: options.maxMs ?? 15 * 60_000,
    customers: options.customers,
    products: options.products,
  };
  const child: ChildProcess = spawn(
    process.env.JETSAGA_CLUSTER_KUBECTL as string,
    ['-n', cluster.namespace, 'exec', '-i', options.name, '--', 'node', '-e', DRIVER, JSON.stringify(config)],
    { env: process.env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor('the load to start', async () => stdout.includes('STARTED') || (child.exitCode !== null ? true : undefined), 60_000, 100);
  if (child.exitCode !== null) throw new Error(`the load exited at once: ${stderr}`);
  const startedAt = Date.now();
  return {
    startedAt,
    // Sagas are counted at their end; an estimate of how far the load is, from the clock, for "wait until some ran".
    sagasSoFar: () => Math.floor(((Date.now() - startedAt) / 1000) * options.rate),
    async stop() {
      child.stdin?.write('stop\n');
      child.stdin?.end();
      const code = await exited;
      const line = stdout.split('\n').find((entry) => entry.startsWith('RESULT '));
      if (!line) throw new Error(`the load ended with ${code} and no result: ${stderr.slice(-2000)}`);
      return JSON.parse(line.slice('RESULT '.length)) as LoadResult;
    },
  };
}
