import { performance } from 'node:perf_hooks';
import { CoordinationV1Api, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
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

/**
 * The three durations of leader election, as in client-go: a follower takes over a Lease it has seen unchanged for
 * `leaseDurationMs`; the leader stops leading when it has not renewed for `renewDeadlineMs`; both try every
 * `retryPeriodMs`. The gap between the lease and the deadline is the margin that keeps two leaders apart: the old
 * one has stopped for that long before a follower may start (clock rates aside; wall clocks are never compared).
 */
export type LeaseTiming = { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };

/** Refuses timings that would let a follower take over before the leader has given up (or that never renew). */
export function checkTiming(timing: LeaseTiming): LeaseTiming {
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = timing;
  if (!(retryPeriodMs > 0 && renewDeadlineMs > retryPeriodMs && leaseDurationMs > renewDeadlineMs))
    throw new Error(
      `leader election needs lease duration > renew deadline > retry period, got ${leaseDurationMs} / ${renewDeadlineMs} / ${retryPeriodMs} ms`,
    );
  return timing;
}

/** The renew deadline when only the lease duration is configured: two thirds of it, as client-go's 15 s / 10 s. */
export const defaultRenewDeadlineMs = (leaseDurationMs: number): number => Math.round((leaseDurationMs * 2) / 3);

/**
 * What a candidate last saw of the Lease, and when by its own monotonic clock. The holder's renewTime is another
 * machine's wall clock: comparing it with ours would make skew decide who leads. Instead a Lease counts as expired
 * once this candidate has seen the same record (same resourceVersion) for the lease duration the record declares.
 */
export type Observation = { record: string; holder: string; durationMs: number; observedAt: number };

export function observe(previous: Observation | undefined, lease: V1Lease, now: number, defaultDurationMs: number): Observation {
  const spec: V1LeaseSpec = lease.spec ?? {};
  const record = lease.metadata?.resourceVersion ?? JSON.stringify(spec);
  if (previous && previous.record === record) return previous;
  const seconds = spec.leaseDurationSeconds;
  return {
    record,
    holder: spec.holderIdentity ?? '',
    durationMs: seconds !== undefined && seconds > 0 ? seconds * 1000 : defaultDurationMs,
    observedAt: now,
  };
}

/** A released Lease (no holder) is free at once; a held one after its duration without any change. */
export const isExpired = (observation: Observation, now: number): boolean =>
  observation.holder === '' || now - observation.observedAt >= observation.durationMs;

/**
 * Until when a leader may act on a renewal: its renew deadline counted from when the request was sent (the API
 * server wrote the record later, so followers count their lease duration from a later instant still).
 */
export const leadingUntil = (renewSentAt: number, timing: LeaseTiming): number => renewSentAt + timing.renewDeadlineMs;

/**
 * How long one acquire-or-renew attempt may take before it is abandoned: a leader's until its deadline (nothing it
 * learns later can keep it leading), a follower's one renew deadline.
 */
export const attemptBudgetMs = (leadingUntilAt: number | undefined, now: number, timing: LeaseTiming): number =>
  leadingUntilAt === undefined ? timing.renewDeadlineMs : Math.max(0, leadingUntilAt - now);

export type SteppedDownReason = 'released' | 'lost' | 'renew-deadline';

export type LeaderElectionOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  /** How long a Lease stays valid without renewal; a follower takes over after seeing it unchanged that long. */
  leaseDurationSeconds: number;
  /** How long the leader keeps leading without a successful renewal; shorter than the lease. Default: 2/3 of it. */
  renewDeadlineMs?: number;
  /** How often the leader renews and a follower retries. */
  retryPeriodMs: number;
  onStartedLeading: () => void | Promise<void>;
  /**
   * Called (synchronously) the moment this instance stops leading: `renew-deadline` when it could not renew in time (cut off from
   * the API server), `lost` when another holder was found, `released` on stop(). Reconciling must stop here.
   */
  onStoppedLeading: (reason: SteppedDownReason) => void | Promise<void>;
  onError?: (error: unknown) => void;
  /** Monotonic milliseconds; tests may drive it. */
  now?: () => number;
};

/**
 * Lease-based leader election (coordination.k8s.io/v1). Every change goes through an update carrying the
 * resourceVersion that was read, so two candidates can never both hold the Lease in the API server: the second
 * write is rejected with a conflict. Acting on a Lease it can no longer renew is what the renew deadline prevents:
 * a watchdog stops leading `renewDeadlineMs` after the last renewal that succeeded, whether or not the attempt in
 * flight ever answers. Stopping releases the Lease after reconciling has stopped, so a follower need not wait.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly timing: LeaseTiming;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private leading = false;
  /** While leading: the monotonic instant after which the last renewal no longer entitles us to act. */
  private until?: number;
  private observation?: Observation;
  private stopped = false;
  private attempt = 0;
  private abort?: AbortController;
  private running?: Promise<void>;
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly options: LeaderElectionOptions) {
    const leaseDurationMs = options.leaseDurationSeconds * 1000;
    this.timing = checkTiming({
      leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? defaultRenewDeadlineMs(leaseDurationMs),
      retryPeriodMs: options.retryPeriodMs,
    });
    this.now = options.now ?? (() => performance.now());
    this.api = makeApiClient(options.kubeConfig, CoordinationV1Api, undefined, () => this.abort?.signal);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      const id = ++this.attempt;
      const budget = attemptBudgetMs(this.until, this.now(), this.timing);
      const abort = new AbortController();
      this.abort = abort;
      const timeout = setTimeout(() => abort.abort(new Error(`lease attempt abandoned after ${budget} ms`)), budget);
      this.running = this.tryAcquireOrRenew(id)
        .catch((error: unknown) => {
          if (id === this.attempt) this.options.onError?.(error);
        })
        .finally(() => {
          clearTimeout(timeout);
          if (!this.stopped && id === this.attempt) this.timer = setTimeout(tick, this.options.retryPeriodMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort(new Error('stopping'));
    await this.running;
    if (this.leading) {
      // Stop reconciling first, then let a follower in.
      this.stepDown('released');
      await this.transition;
      const abort = new AbortController();
      this.abort = abort;
      const timeout = setTimeout(() => abort.abort(new Error('release abandoned')), this.timing.renewDeadlineMs);
      await this.release()
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => clearTimeout(timeout));
    }
    await this.transition;
  }

  private stepUp(renewSentAt: number): void {
    const until = leadingUntil(renewSentAt, this.timing);
    const now = this.now();
    // A renewal that answered after its own deadline: the watchdog has already stepped down; the next one decides.
    if (until <= now) return;
    this.until = until;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.checkDeadline(), until - now);
    if (!this.leading) {
      this.leading = true;
      this.notify(() => this.options.onStartedLeading());
    }
  }

  private checkDeadline(): void {
    if (this.until === undefined) return;
    const left = this.until - this.now();
    if (left > 0) this.watchdog = setTimeout(() => this.checkDeadline(), left);
    else this.stepDown('renew-deadline');
  }

  private stepDown(reason: SteppedDownReason): void {
    clearTimeout(this.watchdog);
    this.until = undefined;
    if (!this.leading) return;
    this.leading = false;
    this.notify(() => this.options.onStoppedLeading(reason));
  }

  /**
   * Callbacks run at once, never queued behind an earlier one: a start of leading that hangs (its API calls cut
   * off) must not hold back the step-down. stop() waits for all of them.
   */
  private notify(callback: () => void | Promise<void>): void {
    let result: void | Promise<void>;
    try {
      result = callback();
    } catch (error) {
      result = Promise.reject(error);
    }
    const settled = Promise.resolve(result).catch((error: unknown) => this.options.onError?.(error));
    this.transition = Promise.all([this.transition, settled]).then(() => undefined);
  }

  private async tryAcquireOrRenew(id: number): Promise<void> {
    const { namespace, name, identity, leaseDurationSeconds } = this.options;
    const sentAt = this.now();
    const current = () => id === this.attempt && !this.stopped;
    const wall = new MicroTime();
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
            spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: wall, renewTime: wall, leaseTransitions: 0 },
          },
        });
        if (current()) this.stepUp(sentAt);
      } catch (createError) {
        if (!isConflict(createError)) throw createError;
      }
      return;
    }
    if (!current()) return;
    this.observation = observe(this.observation, lease, this.now(), this.timing.leaseDurationMs);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder !== identity && !isExpired(this.observation, this.now())) {
      this.stepDown('lost');
      return;
    }
    const takingOver = holder !== identity;
    try {
      await this.writeLease(lease, {
        holderIdentity: identity,
        leaseDurationSeconds,
        renewTime: wall,
        acquireTime: takingOver ? wall : micro(spec.acquireTime),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
      });
      if (current()) this.stepUp(sentAt);
    } catch (error) {
      // Someone else wrote the Lease since we read it: whoever that was holds it now.
      if (!isConflict(error)) throw error;
      if (current()) this.stepDown('lost');
    }
  }

  /** Writes the Lease as read with these fields changed: refused (409) if anyone wrote it since it was read. */
  private async writeLease(lease: V1Lease, changes: V1LeaseSpec): Promise<void> {
    const { namespace, name } = this.options;
    await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, ...changes } } });
  }

  /**
   * Gives the Lease up if it is still ours. A renewal that stop() abandoned may still land on the API server after
   * the read below (aborting a request does not undo it there): the write then conflicts, and the Lease is read and
   * released again, a few times at most (within the release's deadline).
   */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    for (let attempt = 1; ; attempt++) {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      try {
        await this.writeLease(lease, {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: micro(lease.spec?.acquireTime),
          renewTime: new MicroTime(),
        });
        return;
      } catch (error) {
        if (!isConflict(error) || attempt >= 5) throw error;
      }
    }
  }
}
