import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFoundStatus, makeApiClient } from './kube.js';

/**
 * Lease times are MicroTime: the API server insists on six fractional digits, while Date#toISOString (what
 * client-node serializes with) writes three.
 */
class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/Z$/, '000Z');
  }
}
const micro = (date: Date | string | undefined): Date | undefined => (date === undefined ? undefined : new MicroTime(date));

export type LeaderElectionOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  /** How long a Lease stays valid without renewal; a follower takes over after that. */
  leaseDurationSeconds: number;
  /** How often the leader renews and a follower retries. */
  retryPeriodMs: number;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  onError?: (error: unknown) => void;
};

/**
 * Lease-based leader election (coordination.k8s.io/v1). Every change goes through an update carrying the
 * resourceVersion that was read, so two candidates can never both believe they hold the Lease: the API server
 * rejects the second write with a conflict. Stopping releases the Lease at once, so a follower need not wait for
 * it to expire.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private timer?: NodeJS.Timeout;
  private leading = false;
  private stopped = false;
  private running?: Promise<void>;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = makeApiClient(options.kubeConfig, CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.tryAcquireOrRenew()
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.options.retryPeriodMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.leading) {
      await this.release().catch((error: unknown) => this.options.onError?.(error));
      await this.setLeading(false);
    }
  }

  private async setLeading(leading: boolean): Promise<void> {
    if (leading === this.leading) return;
    this.leading = leading;
    await (leading ? this.options.onStartedLeading() : this.options.onStoppedLeading());
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { namespace, name, identity, leaseDurationSeconds } = this.options;
    const now = new MicroTime();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFoundStatus(error)) throw error;
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        await this.setLeading(true);
      } catch (createError) {
        if (!isConflict(createError)) throw createError;
      }
      return;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
    if (holder !== identity && holder !== '' && !expired) {
      await this.setLeading(false);
      return;
    }
    const takingOver = holder !== identity;
    try {
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds,
            renewTime: now,
            acquireTime: takingOver ? now : micro(spec.acquireTime),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
          },
        },
      });
      await this.setLeading(true);
    } catch (error) {
      // Someone else wrote the Lease since we read it: whoever that was holds it now.
      if (!isConflict(error)) throw error;
      await this.setLeading(false);
    }
  }

  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    const lease = await this.api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== identity) return;
    await this.api.replaceNamespacedLease({
      name,
      namespace,
      body: {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: micro(lease.spec?.acquireTime),
          renewTime: new MicroTime(),
        },
      },
    });
  }
}
