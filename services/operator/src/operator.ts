import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from '@jetsaga/platform';
import type { ApiToken } from './api-token.js';
import { LEASE_NAME } from './constants.js';
import { Controller } from './controller.js';
import { LeaderElector, type SteppedDownReason } from './leader.js';
import { OperatorMetrics } from './metrics.js';

export type OperatorOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  nc: NatsConnection;
  eventStoreUrl: string;
  eventStoreToken?: ApiToken;
  identity: string;
  log: Logger;
  resyncMs?: number;
  backoffMs?: number;
  /** The Lease this instance campaigns for; one per release (the chart sets <release>-operator). */
  leaseName?: string;
  leaseDurationSeconds?: number;
  /** Stop leading after this long without a successful renewal (default: two thirds of the lease). */
  renewDeadlineMs?: number;
  leaseRetryMs?: number;
  /** Told when this instance stops leading (after reconciling has been told to stop), and why. */
  onStoppedLeading?: (reason: SteppedDownReason) => void;
  /** Ports for /healthz + /readyz and for /metrics (0: any free port); undefined: no HTTP at all. */
  http?: { host: string; port: number; metricsPort: number };
};

export type RunningOperator = {
  isLeader(): boolean;
  metrics: OperatorMetrics;
  httpPort?: number;
  metricsPort?: number;
  /** Stops reconciling and releases the Lease, so a standby takes over at its next retry. */
  stop(): Promise<void>;
};

/**
 * One operator instance: it campaigns for the Lease and runs the controller only while it holds it. A standby
 * keeps campaigning and serves its probes and metrics, so it is Ready and takes over when the leader goes.
 */
export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const metrics = new OperatorMetrics();
  const { log } = options;
  let controller: Controller | undefined;
  // The previous controller's stop: a new one starts only after it (they would reconcile the same resources).
  let stopping: Promise<void> = Promise.resolve();
  const elector = new LeaderElector({
    kubeConfig: options.kubeConfig,
    namespace: options.namespace,
    name: options.leaseName ?? LEASE_NAME,
    identity: options.identity,
    leaseDurationSeconds: options.leaseDurationSeconds ?? 15,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.leaseRetryMs ?? 2000,
    onStartedLeading: async () => {
      log.info({ identity: options.identity }, 'leading: reconciling');
      metrics.leader.set(1);
      const started = new Controller({
        kubeConfig: options.kubeConfig,
        namespace: options.namespace,
        nc: options.nc,
        eventStoreUrl: options.eventStoreUrl,
        eventStoreToken: options.eventStoreToken,
        resyncMs: options.resyncMs ?? 30_000,
        backoffMs: options.backoffMs ?? 2000,
        log,
        metrics,
      });
      controller = started;
      await stopping;
      await started.start();
    },
    onStoppedLeading: async (reason) => {
      // Synchronous up to the first await: the controller is flagged stopped before anything else can run, so
      // no further step is taken even while its in-flight calls (cut off from the API server) never answer.
      const stopped = controller;
      controller = undefined;
      metrics.leader.set(0);
      if (reason === 'renew-deadline') metrics.leadershipLost.inc();
      stopping = stopped?.stop() ?? Promise.resolve();
      log[reason === 'released' ? 'info' : 'warn']({ identity: options.identity, reason }, 'not leading: standing by');
      options.onStoppedLeading?.(reason);
      await stopping;
    },
    onError: (error) => log.warn({ err: error }, 'leader election failed; retrying'),
  });
  elector.start();

  const servers: Server[] = [];
  let httpPort: number | undefined;
  let metricsPort: number | undefined;
  if (options.http) {
    const probes = createServer((request, response) => {
      const ok = request.url === '/healthz' || (request.url === '/readyz' && !options.nc.isClosed());
      response.writeHead(ok ? 200 : request.url === '/readyz' ? 503 : 404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', leader: elector.isLeader() }));
    });
    const exposition = createServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      void metrics.registry.metrics().then((text) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType });
        response.end(text);
      });
    });
    const listen = (server: Server, port: number) =>
      new Promise<number>((resolve) => server.listen(port, options.http?.host, () => resolve((server.address() as AddressInfo).port)));
    httpPort = await listen(probes, options.http.port);
    metricsPort = await listen(exposition, options.http.metricsPort);
    servers.push(probes, exposition);
  }

  return {
    isLeader: () => elector.isLeader(),
    metrics,
    httpPort,
    metricsPort,
    stop: async () => {
      await elector.stop();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}
