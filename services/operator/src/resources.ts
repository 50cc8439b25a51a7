import { z } from 'zod';
import { type API_VERSION } from './constants.js';
import { DURATION_PATTERN } from './durations.js';

/**
 * The custom resources' specs as zod schemas. The CRDs' OpenAPI schemas (charts/operator/crds) reject most bad
 * input at the API server; these schemas are what the reconcile code relies on, and they also parse
 * k8s/topology/*.yaml for `npm start`, where no API server validates anything.
 */
const NAME = /^[A-Za-z0-9_-]+$/;
const duration = z.string().regex(new RegExp(DURATION_PATTERN), 'a duration like 30s, 2m or 1h30m');
const subject = z
  .string()
  .min(1)
  .regex(/^[^\s]+$/, 'no whitespace in subjects');

export const eventStreamSpec = z.strictObject({
  name: z.string().regex(NAME, 'letters, digits, _ and -'),
  description: z.string().optional(),
  subjects: z.array(subject).min(1),
  storage: z.enum(['File', 'Memory']).default('File'),
  replicas: z.number().int().min(1).max(5).default(1),
  retention: z.enum(['Limits', 'Interest', 'WorkQueue']).default('Limits'),
  discard: z.enum(['Old', 'New']).default('Old'),
  maxAge: duration.default('0'),
  maxMsgs: z.number().int().min(-1).default(-1),
  maxBytes: z.number().int().min(-1).default(-1),
  duplicateWindow: duration.default('2m'),
  allowMsgSchedules: z.boolean().default(false),
  allowAtomic: z.boolean().default(false),
  /** Direct gets (any replica answers a read of one message, e.g. a subject's last). */
  allowDirect: z.boolean().default(false),
  /** JetStream refuses to delete single messages / purge the stream; neither can be turned off again once set. */
  denyDelete: z.boolean().default(false),
  denyPurge: z.boolean().default(false),
  preventDelete: z.boolean().default(false),
});
export type EventStreamSpec = z.infer<typeof eventStreamSpec>;

export const eventConsumerSpec = z.strictObject({
  stream: z.string().regex(NAME),
  durableName: z.string().regex(NAME),
  description: z.string().optional(),
  filterSubjects: z.array(subject).min(1),
  ackWait: duration.default('30s'),
  maxDeliver: z.number().int().min(-1).default(-1),
  backoff: z.array(duration).default([]),
  maxAckPending: z.number().int().min(1).default(1000),
  deliverPolicy: z.enum(['All', 'New', 'Last']).default('All'),
  deadLetter: z.strictObject({ stream: z.string().regex(NAME), subject }).optional(),
  preventDelete: z.boolean().default(false),
});
export type EventConsumerSpec = z.infer<typeof eventConsumerSpec>;

export const projectionSpec = z.strictObject({
  /** The projection's name in the event store (default: the resource's name). */
  projection: z.string().regex(NAME).optional(),
  source: z.string().regex(NAME).default('EVENTS'),
  version: z.number().int().min(1),
  /** Base URL of the event store (default: the operator's EVENT_STORE_URL). */
  eventStoreUrl: z.url().optional(),
});
export type ProjectionSpec = z.infer<typeof projectionSpec>;

export type Condition = {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
};

export type ObjectMeta = {
  name: string;
  namespace?: string;
  generation?: number;
  uid?: string;
  resourceVersion?: string;
  finalizers?: string[];
  deletionTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};

export type StreamFigures = { messages: number; bytes: number; firstSequence: number; lastSequence: number; consumers: number };
export type ConsumerFigures = { pending: number; ackPending: number; redelivered: number; waiting: number; delivered: number };
export type ProjectionFigures = {
  activeVersion?: number;
  rebuildVersion?: number;
  state?: string;
  position?: number;
  lag?: number;
};

export type Status<F> = { observedGeneration?: number; conditions?: Condition[] } & Partial<F>;

export type Resource<S, F> = {
  apiVersion: typeof API_VERSION | string;
  kind: string;
  metadata: ObjectMeta;
  spec: S;
  status?: Status<F>;
};

export type EventStream = Resource<z.input<typeof eventStreamSpec>, StreamFigures>;
export type EventConsumer = Resource<z.input<typeof eventConsumerSpec>, ConsumerFigures>;
export type Projection = Resource<z.input<typeof projectionSpec>, ProjectionFigures>;

export class InvalidSpecError extends Error {
  override readonly name = 'InvalidSpecError';
}

/** Parses a spec, turning zod's issues into one message a `kubectl describe` reader can act on. */
export function parseSpec<T>(schema: z.ZodType<T>, spec: unknown): T {
  const parsed = schema.safeParse(spec);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues.map((issue) => `spec.${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
  throw new InvalidSpecError(message);
}
