import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from '@jetsaga/platform';
import { LEASE_NAME } from './constants.js';
import { Controller } from './controller.js';
import { LeaderElector } from './leader.js';
import { OperatorMetrics } from './metrics.js';

export type OperatorOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  nc: NatsConnection;
  eventStoreUrl: string;
  identity: string;
  log: Logger;
  resyncMs?: number;
  backoffMs?: number;
  leaseDurationSeconds?: number;
  leaseRetryMs?: number;
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
  // Leadership changes are serialized: stopping a controller finishes before a new one can start.
  let transition: Promise<void> = Promise.resolve();
  const elector = new LeaderElector({
    kubeConfig: options.kubeConfig,
    namespace: options.namespace,
    name: LEASE_NAME,
    identity: options.identity,
    leaseDurationSeconds: options.leaseDurationSeconds ?? 15,
    retryPeriodMs: options.leaseRetryMs ?? 2000,
    onStartedLeading: () => {
      transition = transition.then(async () => {
        log.info({ identity: options.identity }, 'leading: reconciling');
        metrics.leader.set(1);
        controller = new Controller({
          kubeConfig: options.kubeConfig,
          namespace: options.namespace,
          nc: options.nc,
          eventStoreUrl: options.eventStoreUrl,
          resyncMs: options.resyncMs ?? 30_000,
          backoffMs: options.backoffMs ?? 2000,
          log,
          metrics,
        });
        await controller.start();
      });
      return transition;
    },
    onStoppedLeading: () => {
      transition = transition.then(async () => {
        log.info({ identity: options.identity }, 'not leading: standing by');
        metrics.leader.set(0);
        await controller?.stop();
        controller = undefined;
      });
      return transition;
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
      await transition;
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}
