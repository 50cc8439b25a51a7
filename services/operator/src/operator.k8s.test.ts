import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { type ClientRequest, createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { adminCredentials, freePort as freePortNumber, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { KubeClient, type KubeObject, kubeRequest } from '@jetsaga/k8s-testbed';
import { connectNats, createLogger, type NatsConnection } from '@jetsaga/platform';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { deleteCustomResources } from './cleanup.js';
import { FIELD_MANAGER, FINALIZER, LEASE_NAME } from './constants.js';
import { kubeConfigFor } from './kube.js';
import type { SteppedDownReason } from './leader.js';
import { type RunningOperator, startOperator } from './operator.js';
import type { Condition } from './resources.js';

/**
 * The operator against a real kube-apiserver (with etcd) and a real nats-server, both on loopback. Every wait is
 * for a condition with a deadline; nothing here is a mock of NATS or the Kubernetes API. Projections talk to a
 * small HTTP server that speaks the event store's projection API (the event store itself is another service).
 */
const server = inject('kube');
const kube = new KubeClient(server, 'jetsaga-test');
const namespace = `operator-${randomBytes(3).toString('hex')}`;
const GROUP_VERSION = 'jetsaga.dev/v1alpha1';
// Retries (a watch opened while CRD storage initializes) are logged as warnings; the assertions say what matters.
const log = createLogger('operator-test', 'error');

type Status = { observedGeneration?: number; conditions?: Condition[]; [figure: string]: unknown };
type Resource = KubeObject & {
  spec: Record<string, unknown>;
  status?: Status;
  metadata: KubeObject['metadata'] & {
    generation?: number;
    finalizers?: string[];
    managedFields?: { manager: string; operation: string; subresource?: string }[];
  };
};

const ref = (kind: string, name: string) => ({ apiVersion: GROUP_VERSION, kind, metadata: { name, namespace } });
const get = (kind: string, name: string) => kube.get<Resource>(ref(kind, name), namespace);
const apply = (kind: string, name: string, spec: Record<string, unknown>) =>
  kube.apply({ ...ref(kind, name), spec } as KubeObject, namespace);
/**
 * The operator runs with the chart's own ServiceAccount, Role and RoleBinding (rendered by helm), through a token
 * the API server issues for that account: the tests pass only if the least-privilege RBAC is enough.
 */
async function operatorToken(
  ns = namespace,
  release = 'jetsaga',
  template = 'templates/rbac.yaml',
  account = `${release}-operator`,
): Promise<string> {
  const { stdout } = await promisify(execFile)(
    inject('helmBin'),
    [
      'template',
      release,
      `${inject('chartsDir')}/operator`,
      '--namespace',
      ns,
      '--show-only',
      template,
      '--show-only',
      'templates/operator.yaml',
    ],
    { timeout: 60_000 },
  );
  const objects = parseAllDocuments(stdout).map((document) => document.toJS() as KubeObject | null);
  for (const object of objects) if (object && ['ServiceAccount', 'Role', 'RoleBinding'].includes(object.kind)) await kube.apply(object, ns);
  const response = await kubeRequest(server, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/${account}/token`, {
    contentType: 'application/json',
    text: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } }),
  });
  expect(response.status).toBe(201);
  return (JSON.parse(response.body) as { status: { token: string } }).status.token;
}

/** What the API server's API Priority and Fairness rejected (429) at one priority level, from its /metrics. */
async function rejectedAt(priorityLevel: string): Promise<number> {
  const response = await kubeRequest(server, 'GET', '/metrics');
  expect(response.status).toBe(200);
  return response.body
    .split('\n')
    .filter(
      (line) => line.startsWith('apiserver_flowcontrol_rejected_requests_total{') && line.includes(`priority_level="${priorityLevel}"`),
    )
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/**
 * A request that holds a seat of its priority level until released: a create whose body never comes, so the API
 * server's handler waits (authorized, past flow control) until the connection is closed. Refused itself (another
 * request held the seat at that moment), it is sent again.
 */
function holdSeat(token: string, path: string): { release(): void } {
  let current: ClientRequest | undefined;
  const send = () => {
    const req = httpsRequest(new URL(path, server.url), {
      method: 'POST',
      ca: server.caPem,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': '4096' },
    });
    req.on('error', () => undefined);
    req.once('response', (response) => {
      response.resume();
      if (current === req) send();
    });
    req.flushHeaders();
    current = req;
  };
  send();
  return {
    release: () => {
      const req = current;
      current = undefined;
      req?.destroy();
    },
  };
}

/**
 * A TCP relay between one operator and the API server that the test can cut: from `cut()` on, bytes stop flowing
 * both ways and new connections are accepted but never forwarded, as in a network partition (nothing is refused,
 * requests just never answer). `restore()` drops the connections that lost bytes; new ones are forwarded again.
 */
async function cuttableRelay(target: URL) {
  let cut = false;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const relay: NetServer = createNetServer((client) => {
    track(client);
    if (cut) return;
    const upstream = connect(Number(target.port), target.hostname);
    track(upstream);
    client.on('data', (chunk: Buffer) => void (cut || upstream.write(chunk)));
    upstream.on('data', (chunk: Buffer) => void (cut || client.write(chunk)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    cut: () => void (cut = true),
    restore: () => {
      cut = false;
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    },
  };
}

const ready = (resource: Resource | undefined) => resource?.status?.conditions?.find((condition) => condition.type === 'Ready');

/** Waits until the resource's Ready condition has this status and reason for its current generation. */
async function readyAs(kind: string, name: string, status: 'True' | 'False', reason?: string, timeoutMs = 20_000): Promise<Resource> {
  return waitFor(
    `${kind} ${name} Ready=${status}${reason ? ` (${reason})` : ''}`,
    async () => {
      const resource = await get(kind, name);
      const condition = ready(resource);
      const current =
        condition?.observedGeneration === resource?.metadata.generation &&
        resource?.status?.observedGeneration === resource?.metadata.generation;
      return current && condition?.status === status && (!reason || condition.reason === reason) ? resource : undefined;
    },
    timeoutMs,
  );
}

async function missing<T>(what: string, probe: () => Promise<T>): Promise<void> {
  await waitFor(what, async () => {
    try {
      await probe();
      return false;
    } catch (error) {
      return /not found/i.test(String(error)) ? true : false;
    }
  });
}

/** The event store's projection API, as a test double of that one service (its own tests cover the real one). */
function projectionApi() {
  const reports: { name: string; version: number; position: number; lag: number; state: string }[] = [
    { name: 'order-summaries', version: 1, position: 120, lag: 0, state: 'live' },
  ];
  const rebuilds: { name: string; version: number }[] = [];
  const http: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const match = /^\/api\/projections\/([^/]+)\/rebuild$/.exec(request.url ?? '');
      if (request.method === 'GET' && request.url === '/api/projections') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reports));
      } else if (request.method === 'POST' && match) {
        const { version } = JSON.parse(body) as { version: number };
        rebuilds.push({ name: match[1]!, version });
        reports.push({ name: match[1]!, version, position: 0, lag: 120, state: 'rebuilding' });
        response.writeHead(202).end();
      } else {
        response.writeHead(404).end();
      }
    });
  });
  return { http, reports, rebuilds };
}

describe("the operator (with its chart's RBAC only) on a real kube-apiserver and nats-server", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let leader: RunningOperator;
  let standby: RunningOperator | undefined;
  const events = projectionApi();
  let eventStoreUrl: string;
  let token: string;

  const start = (identity: string) =>
    startOperator({
      kubeConfig: kubeConfigFor(server.url, token, Buffer.from(server.caPem).toString('base64')),
      namespace,
      nc,
      eventStoreUrl,
      identity,
      log,
      resyncMs: 300,
      backoffMs: 300,
      // Long enough that the 429 burst below never reaches the renew deadline (10 s); failover here is by release.
      leaseDurationSeconds: 15,
      leaseRetryMs: 200,
      http: { host: '127.0.0.1', port: 0, metricsPort: 0 },
    });

  beforeAll(async () => {
    const crds = fileURLToPath(new URL('../../../charts/operator/crds', import.meta.url));
    for (const file of await readdir(crds)) {
      const crd = parse(await readFile(`${crds}/${file}`, 'utf8')) as KubeObject;
      await kube.apply(crd);
      await waitFor(`CRD ${crd.metadata.name}`, () => kube.crdEstablished(crd.metadata.name));
    }
    kube.forgetDiscovery();
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    token = await operatorToken();
    nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
    nc = await connectNats(nats.url, 'operator-test', adminCredentials(inject('natsAuth')));
    jsm = await jetstreamManager(nc);
    await new Promise<void>((resolve) => events.http.listen(0, '127.0.0.1', resolve));
    eventStoreUrl = `http://127.0.0.1:${(events.http.address() as AddressInfo).port}`;
    leader = await start('operator-a');
    await waitFor('operator-a to lead', async () => leader.isLeader());
  });

  afterAll(async () => {
    await standby?.stop();
    await leader?.stop();
    await nc?.close();
    await nats?.stop();
    events.http.close();
  });

  it("runs on its chart's Role alone: the same token is refused Secrets, Pods and other namespaces", async () => {
    const as = { ...server, token };
    expect((await kubeRequest(as, 'GET', `/api/v1/namespaces/${namespace}/secrets`)).status).toBe(403);
    expect((await kubeRequest(as, 'GET', `/api/v1/namespaces/${namespace}/pods`)).status).toBe(403);
    expect((await kubeRequest(as, 'GET', '/apis/jetsaga.dev/v1alpha1/namespaces/default/eventstreams')).status).toBe(403);
    expect((await kubeRequest(as, 'GET', `/apis/jetsaga.dev/v1alpha1/namespaces/${namespace}/eventstreams`)).status).toBe(200);
  });

  it('reconciles through a burst of 429s: the API server throttles its service account to nothing, then lets go', async () => {
    // A priority level with no seats of its own and none to borrow, rejecting instead of queueing: a request of the
    // operator's gets through only while no other one runs there, and holdSeat keeps one running.
    const level = `jetsaga-throttled-${namespace}`;
    const throttle: KubeObject[] = [
      {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'PriorityLevelConfiguration',
        metadata: { name: level },
        spec: {
          type: 'Limited',
          limited: { nominalConcurrencyShares: 0, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: 'Reject' } },
        },
      },
      {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'FlowSchema',
        metadata: { name: level },
        spec: {
          priorityLevelConfiguration: { name: level },
          matchingPrecedence: 100,
          distinguisherMethod: { type: 'ByUser' },
          rules: [
            {
              subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: 'jetsaga-operator', namespace } }],
              resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true }],
              nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
            },
          ],
        },
      },
    ];
    const errors = async () =>
      Number(
        /action="error"\} (\d+)/.exec(
          (await leader.metrics.registry.getSingleMetricAsString('jetsaga_operator_reconcile_total')) ?? '',
        )?.[1] ?? 0,
      );
    const errorsBefore = await errors();
    const as = { ...server, token };
    let seat: { release(): void } | undefined;
    try {
      for (const object of throttle) await kube.apply(object);
      const { metadata } = (await kube.get<{ metadata: { uid: string } }>(throttle[0]!))!;
      // Flow control has taken the new level in once the operator's requests are classified into it.
      await waitFor('the operator classified into the throttled level', async () => {
        const probe = await kubeRequest(as, 'GET', `/apis/jetsaga.dev/v1alpha1/namespaces/${namespace}/eventstreams`);
        return probe.headers['x-kubernetes-pf-prioritylevel-uid'] === metadata.uid;
      });
      const rejectedBefore = await rejectedAt(level);
      seat = holdSeat(token, `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`);
      await apply('EventStream', 'throttled', { name: 'THROTTLED', subjects: ['throttled.>'] });
      // The burst: the Lease renewals and the new resource's reconcile are refused, over and over.
      await waitFor(
        'six 429s for the operator',
        async () => ((await rejectedAt(level)) >= rejectedBefore + 6 ? true : undefined),
        30_000,
        100,
      );
      expect((await get('EventStream', 'throttled'))?.metadata.finalizers ?? []).not.toContain(FINALIZER);
      seat.release();
      seat = undefined;
      await readyAs('EventStream', 'throttled', 'True', 'InSync', 45_000);
      expect((await jsm.streams.info('THROTTLED')).config.subjects).toEqual(['throttled.>']);
      // Every refused call was sent again after its Retry-After: no reconcile failed, the Lease was never lost.
      expect(await errors()).toBe(errorsBefore);
      expect(leader.isLeader()).toBe(true);
    } finally {
      seat?.release();
      for (const object of [...throttle].reverse()) await kube.delete(object);
    }
    await kube.delete(ref('EventStream', 'throttled'), namespace);
    await missing('stream THROTTLED deleted in NATS', () => jsm.streams.info('THROTTLED'));
  });

  it('EventStream: creates the stream, reports Ready with live figures, status written by server-side apply', async () => {
    await apply('EventStream', 'events', { name: 'EVENTS', subjects: ['events.>'], duplicateWindow: '2m', allowAtomic: true });
    const resource = await readyAs('EventStream', 'events', 'True', 'InSync');
    expect(resource.metadata.finalizers).toContain(FINALIZER);
    const info = await jsm.streams.info('EVENTS');
    expect(info.config).toMatchObject({ subjects: ['events.>'], storage: 'file', num_replicas: 1, duplicate_window: 120_000_000_000 });
    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await js.publish(`events.order.o${i}.OrderPlaced`, '{}');
    const counted = await waitFor('status.messages = 3', async () =>
      (await get('EventStream', 'events'))?.status?.messages === 3 ? true : undefined,
    );
    expect(counted).toBe(true);
    const managers = (await get('EventStream', 'events'))!.metadata.managedFields!;
    expect(managers).toContainEqual(expect.objectContaining({ manager: FIELD_MANAGER, operation: 'Apply', subresource: 'status' }));
  });

  it('EventStream: an edit of the spec reaches JetStream and is observed at the new generation', async () => {
    await apply('EventStream', 'events', { name: 'EVENTS', subjects: ['events.>', 'legacy.>'], duplicateWindow: '5m', allowAtomic: true });
    const resource = await readyAs('EventStream', 'events', 'True', 'InSync');
    expect(resource.metadata.generation).toBe(2);
    expect((await jsm.streams.info('EVENTS')).config).toMatchObject({
      subjects: ['events.>', 'legacy.>'],
      duplicate_window: 300_000_000_000,
    });
  });

  it('EventStream: drift is corrected (a stream edited behind the operator, a stream deleted in NATS)', async () => {
    const config = (await jsm.streams.info('EVENTS')).config;
    await jsm.streams.update('EVENTS', { ...config, subjects: ['events.>'] });
    await waitFor('subjects restored', async () => ((await jsm.streams.info('EVENTS')).config.subjects.length === 2 ? true : undefined));
    await jsm.streams.delete('EVENTS');
    await waitFor('stream recreated', async () =>
      (await jsm.streams.info('EVENTS').catch(() => undefined))?.config.subjects.length === 2 ? true : undefined,
    );
    await readyAs('EventStream', 'events', 'True', 'InSync');
  });

  it('EventStream: a change JetStream cannot make in place is reported, not forced', async () => {
    await apply('EventStream', 'scratch', { name: 'SCRATCH', subjects: ['scratch.>'] });
    await readyAs('EventStream', 'scratch', 'True');
    await apply('EventStream', 'scratch', { name: 'SCRATCH', subjects: ['scratch.>'], storage: 'Memory' });
    const blocked = await readyAs('EventStream', 'scratch', 'False', 'ImmutableField');
    expect(ready(blocked)?.message).toMatch(/storage: "file" -> "memory"/);
    expect((await jsm.streams.info('SCRATCH')).config.storage).toBe('file');
  });

  it('EventConsumer: waits for its stream and dead-letter stream, then creates the consumer with live figures', async () => {
    await apply('EventConsumer', 'order', {
      stream: 'EVENTS',
      durableName: 'order',
      filterSubjects: ['events.*.*.OrderPlaced'],
      maxDeliver: 6,
      deadLetter: { stream: 'DLQ', subject: 'dlq.order' },
    });
    const waiting = await readyAs('EventConsumer', 'order', 'False', 'StreamMissing');
    expect(ready(waiting)?.message).toMatch(/dlq\.order is not captured by stream DLQ/);
    await apply('EventStream', 'dlq', { name: 'DLQ', subjects: ['dlq.>'] });
    await readyAs('EventConsumer', 'order', 'True', 'InSync');
    // Live figures: two messages match the filter, one does not.
    const js = jetstream(nc);
    await js.publish('events.order.o1.OrderPlaced', '{}');
    await js.publish('events.order.o2.OrderPlaced', '{}');
    await js.publish('events.order.o1.OrderCompleted', '{}');
    await waitFor('status.pending = 2', async () => ((await get('EventConsumer', 'order'))?.status?.pending === 2 ? true : undefined));
    const info = await jsm.consumers.info('EVENTS', 'order');
    expect(info.config).toMatchObject({ filter_subjects: ['events.*.*.OrderPlaced'], max_deliver: 6, ack_policy: 'explicit' });
    expect(info.config.metadata?.['jetsaga.dev/dead-letter']).toBe('DLQ:dlq.order');
  });

  it('EventConsumer: a filter subject and max deliver change is applied to the durable consumer', async () => {
    await apply('EventConsumer', 'order', {
      stream: 'EVENTS',
      durableName: 'order',
      filterSubjects: ['events.*.*.OrderPlaced', 'events.*.*.OrderCancelled'],
      maxDeliver: 10,
      deadLetter: { stream: 'DLQ', subject: 'dlq.order' },
    });
    await readyAs('EventConsumer', 'order', 'True', 'InSync');
    expect((await jsm.consumers.info('EVENTS', 'order')).config).toMatchObject({
      filter_subjects: ['events.*.*.OrderPlaced', 'events.*.*.OrderCancelled'],
      max_deliver: 10,
    });
  });

  it('EventConsumer: a consumer deleted in NATS is recreated', async () => {
    await jsm.consumers.delete('EVENTS', 'order');
    const info = await waitFor('consumer recreated', () => jsm.consumers.info('EVENTS', 'order').catch(() => undefined));
    expect(info.config.max_deliver).toBe(10);
  });

  it('deletion: the finalizer deletes the consumer and the stream; preventDelete keeps the stream', async () => {
    await kube.delete(ref('EventConsumer', 'order'), namespace);
    await waitFor('EventConsumer gone', async () => ((await get('EventConsumer', 'order')) === undefined ? true : undefined));
    await missing('consumer deleted in NATS', () => jsm.consumers.info('EVENTS', 'order'));

    await apply('EventStream', 'dlq', { name: 'DLQ', subjects: ['dlq.>'], preventDelete: true });
    await readyAs('EventStream', 'dlq', 'True');
    await kube.delete(ref('EventStream', 'dlq'), namespace);
    await waitFor('EventStream dlq gone', async () => ((await get('EventStream', 'dlq')) === undefined ? true : undefined));
    expect((await jsm.streams.info('DLQ')).config.name).toBe('DLQ');

    await kube.delete(ref('EventStream', 'scratch'), namespace);
    await missing('stream SCRATCH deleted in NATS', () => jsm.streams.info('SCRATCH'));
  });

  it('Projection: a version change asks the event store for a rebuild and reports its progress until live', async () => {
    await apply('Projection', 'order-summaries', { version: 1 });
    const live = await readyAs('Projection', 'order-summaries', 'True', 'Live');
    expect(live.status).toMatchObject({ activeVersion: 1, position: 120, lag: 0 });
    expect(events.rebuilds).toEqual([]);

    await apply('Projection', 'order-summaries', { version: 2 });
    const rebuilding = await readyAs('Projection', 'order-summaries', 'False', 'Rebuilding');
    expect(events.rebuilds).toEqual([{ name: 'order-summaries', version: 2 }]);
    expect(rebuilding.status).toMatchObject({ activeVersion: 1, rebuildVersion: 2 });

    Object.assign(events.reports[1]!, { position: 60, lag: 60 });
    await waitFor('progress reported', async () =>
      (await get('Projection', 'order-summaries'))?.status?.position === 60 ? true : undefined,
    );
    // Blue-green: the event store switches when the new version has caught up.
    Object.assign(events.reports[1]!, { position: 120, lag: 0, state: 'live' });
    events.reports[0]!.state = 'retired';
    const switched = await readyAs('Projection', 'order-summaries', 'True', 'Live');
    expect(switched.status).toMatchObject({ activeVersion: 2, lag: 0 });
    expect(events.rebuilds).toHaveLength(1);
  });

  it('EventStream: denyDelete and denyPurge reach JetStream, which then refuses a purge and a message delete', async () => {
    await apply('EventStream', 'guarded', { name: 'GUARDED', subjects: ['guarded.>'], denyDelete: true, denyPurge: true });
    await readyAs('EventStream', 'guarded', 'True', 'InSync');
    expect((await jsm.streams.info('GUARDED')).config).toMatchObject({ deny_delete: true, deny_purge: true });
    const ack = await jetstream(nc).publish('guarded.one', '{}');
    await expect(jsm.streams.purge('GUARDED')).rejects.toThrow(/purge/i);
    await expect(jsm.streams.deleteMessage('GUARDED', ack.seq)).rejects.toThrow(/delete/i);
    expect((await jsm.streams.info('GUARDED')).state.messages).toBe(1);
    // The stream itself can still go (its resource's finalizer deletes it).
    await kube.delete(ref('EventStream', 'guarded'), namespace);
    await missing('stream GUARDED deleted in NATS', () => jsm.streams.info('GUARDED'));
  });

  it('leader election: a second instance stays passive until the leader releases its Lease, then takes over', async () => {
    standby = await start('operator-b');
    const lease = () =>
      kube.get<{ spec: { holderIdentity: string; renewTime: string } }>(
        { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE_NAME } },
        namespace,
      );
    // Passive across several renewals by the leader.
    const renewals = new Set<string>();
    await waitFor('three renewals by operator-a while operator-b stands by', async () => {
      const current = await lease();
      expect(current?.spec.holderIdentity).toBe('operator-a');
      expect(standby!.isLeader()).toBe(false);
      renewals.add(current!.spec.renewTime);
      return renewals.size >= 3 ? true : undefined;
    });
    expect(await standby.metrics.registry.getSingleMetricAsString('jetsaga_operator_leader')).toMatch(/jetsaga_operator_leader 0/);
    // Nothing reconciles a resource created now except the leader.
    await leader.stop();
    await waitFor('operator-b to lead', async () => standby!.isLeader());
    expect((await lease())?.spec.holderIdentity).toBe('operator-b');
    await apply('EventStream', 'after-failover', { name: 'AFTER', subjects: ['after.>'] });
    await readyAs('EventStream', 'after-failover', 'True', 'InSync');
    const metrics = await standby.metrics.registry.metrics();
    expect(metrics).toMatch(/jetsaga_operator_reconcile_total\{kind="EventStream",action="created"\} 1/);
    expect(metrics).toMatch(/jetsaga_operator_leader 1/);
    // Only the resources this instance has seen since it took over; all that exist are Ready.
    expect(metrics).toMatch(/jetsaga_operator_resources\{kind="EventStream",ready="True"\} [1-9]/);
    expect(metrics).toMatch(/jetsaga_operator_resources\{kind="EventStream",ready="False"\} 0/);
  });

  it('leader election: cut off from the API server, the leader stops reconciling at its renew deadline, before the follower takes over', async () => {
    // A release of its own ("cutoff"): its own namespace, Role and Lease name, with a 3 s lease and a 2 s deadline.
    const ns = `${namespace}-cut`;
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const cutToken = await operatorToken(ns, 'cutoff');
    const ca = Buffer.from(server.caPem).toString('base64');
    const relay = await cuttableRelay(new URL(server.url));
    const stepDowns: { reason: SteppedDownReason; at: number }[] = [];
    const startCutoff = (identity: string, url: string, onStoppedLeading?: (reason: SteppedDownReason) => void) =>
      startOperator({
        kubeConfig: kubeConfigFor(url, cutToken, ca),
        namespace: ns,
        nc,
        eventStoreUrl,
        identity,
        log,
        resyncMs: 300,
        backoffMs: 300,
        leaseName: 'cutoff-operator',
        leaseDurationSeconds: 3,
        renewDeadlineMs: 2000,
        leaseRetryMs: 200,
        onStoppedLeading,
      });
    const stream = (name: string, spec: Record<string, unknown>) =>
      ({ apiVersion: GROUP_VERSION, kind: 'EventStream', metadata: { name, namespace: ns }, spec }) as KubeObject;
    const lease = () =>
      kube.get<{ spec: { holderIdentity: string; renewTime: string } }>(
        { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'cutoff-operator' } },
        ns,
      );
    const a = await startCutoff('operator-a', relay.url, (reason) => stepDowns.push({ reason, at: performance.now() }));
    let b: RunningOperator | undefined;
    try {
      await waitFor('operator-a to lead through the relay', async () => a.isLeader());
      await kube.apply(stream('cut', { name: 'CUT', subjects: ['cut.>'] }), ns);
      await waitFor('stream CUT created by operator-a', () => jsm.streams.info('CUT').catch(() => undefined));
      b = await startCutoff('operator-b', server.url);
      // Every sighting of the Lease while a test waits must show exactly one leader: the one holding it.
      const wrong: string[] = [];
      const soleLeader = async (holder: string, leader: RunningOperator, other: RunningOperator, renewals: Set<string>) => {
        const current = await lease();
        if (current?.spec.holderIdentity !== holder || !leader.isLeader() || other.isLeader())
          wrong.push(
            `${current?.spec.holderIdentity} holds the Lease; ${holder} leads: ${leader.isLeader()}, the other: ${other.isLeader()}`,
          );
        if (current) renewals.add(current.spec.renewTime);
        return renewals.size >= 3 ? true : undefined;
      };
      const renewals = new Set<string>();
      await waitFor('three renewals by operator-a while operator-b stands by', () => soleLeader('operator-a', a, b!, renewals));
      expect(wrong).toEqual([]);

      const cutAt = performance.now();
      relay.cut();
      const takeoverAt = await waitFor('operator-b to take over', async () => (b!.isLeader() ? performance.now() : undefined), 20_000, 5);
      // operator-a stopped once, because of its deadline, and before operator-b started: never two leaders.
      expect(stepDowns.map(({ reason }) => reason)).toEqual(['renew-deadline']);
      const stepDownAt = stepDowns[0]!.at;
      expect(a.isLeader()).toBe(false);
      expect(stepDownAt).toBeLessThan(takeoverAt);
      // The last renewal went out at most a retry period before the cut: a stepped down within its deadline of it,
      // b waited out the whole lease from its own sighting of that renewal.
      expect(stepDownAt - cutAt).toBeLessThan(2000 + 500);
      expect(takeoverAt - cutAt).toBeGreaterThan(3000 - 500);
      expect(await a.metrics.registry.getSingleMetricAsString('jetsaga_operator_leader')).toMatch(/jetsaga_operator_leader 0/);
      expect(await a.metrics.registry.getSingleMetricAsString('jetsaga_operator_leadership_lost_total')).toMatch(/ 1$/m);
      console.log(
        `[leader cut-off] a stepped down ${Math.round(stepDownAt - cutAt)} ms after the cut, b took over ${Math.round(takeoverAt - cutAt)} ms after it (margin ${Math.round(takeoverAt - stepDownAt)} ms)`,
      );

      // b reconciles from now on; a, reconnected, finds the Lease held by b and stays a follower.
      await kube.apply(stream('after-cut', { name: 'AFTERCUT', subjects: ['aftercut.>'] }), ns);
      await waitFor('stream AFTERCUT created by operator-b', () => jsm.streams.info('AFTERCUT').catch(() => undefined));
      relay.restore();
      const later = new Set<string>();
      await waitFor('three renewals by operator-b while the reconnected operator-a follows', () => soleLeader('operator-b', b!, a, later));
      expect(wrong).toEqual([]);
      expect(a.isLeader()).toBe(false);
      expect(stepDowns).toHaveLength(1);
    } finally {
      relay.restore();
      for (const name of ['cut', 'after-cut']) await kube.delete(stream(name, {}), ns);
      await missing('stream CUT deleted in NATS', () => jsm.streams.info('CUT'));
      await missing('stream AFTERCUT deleted in NATS', () => jsm.streams.info('AFTERCUT'));
      await b?.stop();
      await a.stop();
      await relay.close();
    }
  });

  it('the built entry point (dist/main.js) leads, serves probes and metrics, and releases its Lease on SIGTERM', async () => {
    const own = `${namespace}-main`;
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: own } });
    const [port, metricsPort] = [await freePortNumber(), await freePortNumber()];
    const child = spawn(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url))], {
      env: {
        ...process.env,
        KUBECONFIG: server.kubeconfig,
        NATS_URL: nats.url,
        NATS_USER: adminCredentials(inject('natsAuth')).user,
        NATS_PASSWORD: adminCredentials(inject('natsAuth')).password,
        WATCH_NAMESPACE: own,
        POD_NAME: 'operator-main',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'error',
        LEASE_RETRY_SECONDS: '0.2',
      },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('operator process ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok);
      await waitFor('operator process leads', async () =>
        /jetsaga_operator_leader 1/.test(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()) ? true : undefined,
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const lease = await kube.get<{ spec: { holderIdentity?: string } }>(
      { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE_NAME } },
      own,
    );
    expect(lease?.spec.holderIdentity ?? '').toBe('');
  });

  it("uninstall clean-up (the chart's pre-delete hook, with its own Role): deletes every resource and waits out the finalizers", async () => {
    const hookToken = await operatorToken(namespace, 'jetsaga', 'templates/pre-delete.yaml', 'jetsaga-operator-cleanup');
    const as = { ...server, token: hookToken };
    expect((await kubeRequest(as, 'GET', `/api/v1/namespaces/${namespace}/secrets`)).status).toBe(403);
    const list = async (plural: string) =>
      (
        JSON.parse((await kubeRequest(server, 'GET', `/apis/${GROUP_VERSION}/namespaces/${namespace}/${plural}`)).body) as {
          items: Resource[];
        }
      ).items;
    const streams = await list('eventstreams');
    // What is left from the tests above, reconciled by operator-b (the leader since the failover): held by finalizers.
    expect(streams.map((stream) => stream.spec.name).sort()).toEqual(['AFTER', 'EVENTS']);
    for (const stream of streams) expect(stream.metadata.finalizers).toContain(FINALIZER);
    const report = await deleteCustomResources({
      kubeConfig: kubeConfigFor(server.url, hookToken, Buffer.from(server.caPem).toString('base64')),
      namespace,
      timeoutMs: 30_000,
      pollMs: 100,
    });
    expect(report.deleted).toEqual({ EventConsumer: 0, EventStream: 2, Projection: 1 });
    for (const plural of ['eventstreams', 'eventconsumers', 'projections']) expect(await list(plural), plural).toEqual([]);
    // The finalizers ran: the operator deleted the streams in NATS before letting the resources go.
    await missing('stream EVENTS deleted in NATS', () => jsm.streams.info('EVENTS'));
    await missing('stream AFTER deleted in NATS', () => jsm.streams.info('AFTER'));
  });
});
