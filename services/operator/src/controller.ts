import {
  CustomObjectsApi,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from '@jetsaga/platform';
import type { z } from 'zod';
import { type ConditionUpdate, readyCondition, setCondition } from './conditions.js';
import { CONDITION_READY, FIELD_MANAGER, FINALIZER, GROUP, type KindName, KINDS, REASONS, VERSION } from './constants.js';
import { deleteConsumer, deleteStream, reconcileConsumer, reconcileStream, type StepOutcome } from './jetstream.js';
import type { ApiToken } from './api-token.js';
import { makeApiClient } from './kube.js';
import type { OperatorMetrics } from './metrics.js';
import { httpEventStore, reconcileProjection } from './projection.js';
import {
  type Condition,
  eventConsumerSpec,
  eventStreamSpec,
  InvalidSpecError,
  type ObjectMeta,
  parseSpec,
  projectionSpec,
  type Status,
} from './resources.js';

type CustomObject = KubernetesObject & { metadata: ObjectMeta; spec?: Record<string, unknown>; status?: Status<Record<string, unknown>> };

type Handler = {
  schema: z.ZodType<unknown>;
  /** Streams and consumers hold a finalizer: their JetStream object outlives nothing it was declared by. */
  finalizer: boolean;
  step(spec: unknown, object: CustomObject): Promise<StepOutcome<unknown>>;
  cleanup?(spec: Record<string, unknown>): Promise<void>;
};

export type ControllerOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  nc: NatsConnection;
  /** Default event store for Projections that do not name one. */
  eventStoreUrl: string;
  /** The operator's bearer token for the event store (api-token.ts). */
  eventStoreToken?: ApiToken;
  /** Period of the drift check on resources that are in sync. */
  resyncMs: number;
  /** Delay before retrying a resource that could not be reconciled. */
  backoffMs: number;
  log: Logger;
  metrics: OperatorMetrics;
  now?: () => Date;
};

const keyOf = (kind: KindName, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/** Longer than the 429 retries may wait in all (30 s), so throttling alone never aborts a call. */
const REQUEST_TIMEOUT_MS = 60_000;

class StoppedError extends Error {
  override readonly name = 'StoppedError';
  constructor() {
    super('the controller stopped (no longer leading): the pass takes no further step');
  }
}

/**
 * Watches the three kinds in one namespace and reconciles them one pass at a time. A pass takes at most one step
 * (add the finalizer, create, update, delete, write status) and says when to look again, so every pass starts
 * from what the API server and JetStream say now: level-based, never from remembered events.
 */
export class Controller {
  private readonly api: CustomObjectsApi;
  private readonly informers = new Map<KindName, Informer<CustomObject> & ObjectCache<CustomObject>>();
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly ready = new Set<string>();
  /** Last Ready status per resource key, for the resources gauge. */
  private readonly readiness = new Map<string, Condition['status']>();
  private readonly handlers: Record<KindName, Handler>;
  private working?: Promise<void>;
  private stopped = false;
  private jsm?: JetStreamManager;

  constructor(private readonly options: ControllerOptions) {
    // A call that never answers (the API server unreachable) fails after a minute, so stopping never waits longer.
    this.api = makeApiClient(options.kubeConfig, CustomObjectsApi, undefined, () => AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    const jsm = async () => (this.jsm ??= await jetstreamManager(options.nc));
    this.handlers = {
      EventStream: {
        schema: eventStreamSpec,
        finalizer: true,
        step: async (spec) => reconcileStream(await jsm(), spec as z.infer<typeof eventStreamSpec>),
        cleanup: async (spec) => deleteStream(await jsm(), { name: String(spec.name) }),
      },
      EventConsumer: {
        schema: eventConsumerSpec,
        finalizer: true,
        step: async (spec) => reconcileConsumer(await jsm(), spec as z.infer<typeof eventConsumerSpec>),
        cleanup: async (spec) => deleteConsumer(await jsm(), { stream: String(spec.stream), durableName: String(spec.durableName) }),
      },
      Projection: {
        schema: projectionSpec,
        finalizer: false,
        step: async (spec, object) => {
          const parsed = spec as z.infer<typeof projectionSpec>;
          const store = httpEventStore(parsed.eventStoreUrl ?? options.eventStoreUrl, undefined, options.eventStoreToken);
          return reconcileProjection(store, parsed.projection ?? object.metadata.name, parsed);
        },
      },
    };
  }

  async start(): Promise<void> {
    const { kubeConfig, namespace, log } = this.options;
    for (const kind of Object.keys(KINDS) as KindName[]) {
      // Stopped while starting (leadership lost meanwhile): no further watch is opened.
      if (this.stopped) return;
      const { plural } = KINDS[kind];
      const informer = makeInformer<CustomObject>(kubeConfig, `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`, async () =>
        this.api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural }),
      );
      const enqueue = (object: CustomObject) => this.schedule(keyOf(kind, namespace, object.metadata.name), 0);
      informer.on('add', enqueue);
      informer.on('update', enqueue);
      informer.on('error', (error) => {
        if (this.stopped) return;
        log.warn({ err: error, kind }, 'watch failed; restarting it');
        setTimeout(() => void informer.start().catch(() => undefined), this.options.backoffMs).unref();
      });
      this.informers.set(kind, informer);
      await informer.start();
      if (this.stopped) await informer.stop();
    }
    log.info({ namespace }, 'controller started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.ready.clear();
    for (const informer of this.informers.values()) await informer.stop();
    await this.working;
  }

  private schedule(key: string, delayMs: number): void {
    if (this.stopped) return;
    const due = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.due <= due) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.ready.add(key);
      this.kick();
    }, delayMs);
    this.timers.set(key, { due, timer });
    this.options.metrics.queueDepth.set(this.timers.size + this.ready.size);
  }

  private kick(): void {
    if (this.working || this.stopped) return;
    this.working = (async () => {
      while (this.ready.size > 0 && !this.stopped) {
        const key = this.ready.values().next().value as string;
        this.ready.delete(key);
        this.options.metrics.queueDepth.set(this.timers.size + this.ready.size);
        await this.process(key);
      }
    })().finally(() => {
      this.working = undefined;
      if (this.ready.size > 0) this.kick();
    });
  }

  private async process(key: string): Promise<void> {
    const [kind, namespace, name] = key.split('/') as [KindName, string, string];
    const object = this.informers.get(kind)?.get(name, namespace);
    if (!object) {
      this.recordReadiness(key, kind, undefined);
      return;
    }
    const { metrics, log } = this.options;
    const stopTimer = metrics.duration.startTimer({ kind });
    try {
      const { action, requeue } = await this.reconcile(kind, object);
      metrics.reconciles.inc({ kind, action });
      const delay = { now: 0, later: this.options.resyncMs, backoff: this.options.backoffMs, never: -1 }[requeue];
      if (delay >= 0) this.schedule(key, delay);
    } catch (error) {
      if (error instanceof StoppedError) return;
      metrics.reconciles.inc({ kind, action: 'error' });
      log.warn({ err: error, kind, name }, 'reconcile failed; will retry');
      this.schedule(key, this.options.backoffMs);
    } finally {
      stopTimer();
    }
  }

  private async reconcile(kind: KindName, object: CustomObject): Promise<{ action: string; requeue: StepOutcome<unknown>['requeue'] }> {
    this.proceed();
    const handler = this.handlers[kind];
    const finalizers = object.metadata.finalizers ?? [];
    if (object.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return { action: 'none', requeue: 'never' };
      const spec = object.spec ?? {};
      // preventDelete keeps the JetStream object (and its messages) when the resource goes away.
      this.proceed();
      if (spec.preventDelete !== true) await handler.cleanup?.(spec);
      this.proceed();
      await this.applyFinalizer(kind, object, false);
      this.options.log.info({ kind, name: object.metadata.name, kept: spec.preventDelete === true }, 'resource deleted');
      return { action: 'deleted', requeue: 'never' };
    }
    if (handler.finalizer && !finalizers.includes(FINALIZER)) {
      await this.applyFinalizer(kind, object, true);
      return { action: 'finalizer', requeue: 'now' };
    }
    let spec: unknown;
    try {
      spec = parseSpec(handler.schema, object.spec);
    } catch (error) {
      if (!(error instanceof InvalidSpecError)) throw error;
      await this.writeStatus(kind, object, { status: 'False', reason: REASONS.InvalidSpec, message: error.message }, undefined);
      return { action: 'blocked', requeue: 'never' };
    }
    this.proceed();
    const outcome = await handler.step(spec, object);
    this.proceed();
    await this.writeStatus(kind, object, outcome.condition, outcome.figures as Record<string, unknown> | undefined);
    return { action: outcome.action, requeue: outcome.requeue };
  }

  /** Every write of a pass is preceded by this: once leadership is gone, a pass in flight takes no further step. */
  private proceed(): void {
    if (this.stopped) throw new StoppedError();
  }

  private recordReadiness(key: string, kind: KindName, status: Condition['status'] | undefined): void {
    if (status) this.readiness.set(key, status);
    else this.readiness.delete(key);
    const counts: Record<Condition['status'], number> = { True: 0, False: 0, Unknown: 0 };
    for (const [other, value] of this.readiness) if (other.startsWith(`${kind}/`)) counts[value] += 1;
    for (const [ready, count] of Object.entries(counts)) this.options.metrics.ready.set({ kind, ready }, count);
  }

  /** Server-side apply of our finalizer alone: applying without it removes only the entry this manager owns. */
  private async applyFinalizer(kind: KindName, object: CustomObject, present: boolean): Promise<void> {
    const { namespace } = this.options;
    const metadata: Record<string, unknown> = { name: object.metadata.name, namespace };
    if (present) metadata.finalizers = [FINALIZER];
    await this.api.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: KINDS[kind].plural,
        name: object.metadata.name,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata },
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }

  private async writeStatus(
    kind: KindName,
    object: CustomObject,
    condition: ConditionUpdate,
    figures: Record<string, unknown> | undefined,
  ): Promise<void> {
    const { namespace } = this.options;
    const generation = object.metadata.generation ?? 0;
    const conditions = setCondition(
      object.status?.conditions,
      CONDITION_READY,
      condition,
      generation,
      (this.options.now ?? (() => new Date()))(),
    );
    const status = { observedGeneration: generation, conditions, ...figures };
    this.recordReadiness(keyOf(kind, namespace, object.metadata.name), kind, condition.status);
    if (sameStatus(object.status, status)) return;
    await this.api.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: KINDS[kind].plural,
        name: object.metadata.name,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name: object.metadata.name, namespace }, status },
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }
}

function sameStatus(current: Status<Record<string, unknown>> | undefined, next: Record<string, unknown>): boolean {
  if (!current) return false;
  const stable = (status: Record<string, unknown>) => JSON.stringify(Object.entries(status).sort(([a], [b]) => a.localeCompare(b)));
  const before = readyCondition(current.conditions);
  const after = readyCondition(next.conditions as Status<unknown>['conditions']);
  return stable({ ...current, conditions: before }) === stable({ ...next, conditions: after });
}
