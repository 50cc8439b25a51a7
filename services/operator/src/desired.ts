import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  type StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { DEAD_LETTER_METADATA, FIELD_MANAGER, MANAGED_BY_METADATA } from './constants.js';
import { msToNanos, parseDuration } from './durations.js';
import type { EventConsumerSpec, EventStreamSpec } from './resources.js';

/**
 * Desired JetStream objects as pure functions of a custom resource's spec, and the differences between what NATS
 * has and what the spec wants. No I/O here: the reconcile code decides what to do from these answers.
 */

export type DesiredStream = Pick<StreamConfig, 'name' | 'subjects'> & Partial<StreamConfig>;

const STORAGE: Record<EventStreamSpec['storage'], StorageType> = { File: 'file', Memory: 'memory' };
const RETENTION: Record<EventStreamSpec['retention'], RetentionPolicy> = {
  Limits: RetentionPolicy.Limits,
  Interest: RetentionPolicy.Interest,
  WorkQueue: RetentionPolicy.Workqueue,
};
const DISCARD: Record<EventStreamSpec['discard'], DiscardPolicy> = { Old: DiscardPolicy.Old, New: DiscardPolicy.New };
const DELIVER: Record<EventConsumerSpec['deliverPolicy'], DeliverPolicy> = {
  All: DeliverPolicy.All,
  New: DeliverPolicy.New,
  Last: DeliverPolicy.Last,
};

export function desiredStreamConfig(spec: EventStreamSpec): DesiredStream {
  const config: DesiredStream = {
    name: spec.name,
    subjects: [...spec.subjects],
    description: spec.description ?? '',
    storage: STORAGE[spec.storage],
    num_replicas: spec.replicas,
    retention: RETENTION[spec.retention],
    discard: DISCARD[spec.discard],
    max_age: msToNanos(parseDuration(spec.maxAge)),
    max_msgs: spec.maxMsgs,
    max_bytes: spec.maxBytes,
    duplicate_window: msToNanos(parseDuration(spec.duplicateWindow)),
    allow_msg_schedules: spec.allowMsgSchedules,
    allow_direct: spec.allowDirect,
  };
  // Only sent when asked for, so a server older than 2.12 still accepts streams that do not use atomic batches.
  if (spec.allowAtomic) config.allow_atomic = true;
  // Only when asked for too: JetStream will not turn either off again, so false is never sent over a true.
  if (spec.denyDelete) config.deny_delete = true;
  if (spec.denyPurge) config.deny_purge = true;
  return config;
}

export type DesiredConsumer = Partial<ConsumerConfig> & { durable_name: string; filter_subjects: string[] };

export function desiredConsumerConfig(spec: EventConsumerSpec): DesiredConsumer {
  const metadata: Record<string, string> = { [MANAGED_BY_METADATA]: FIELD_MANAGER };
  if (spec.deadLetter) metadata[DEAD_LETTER_METADATA] = `${spec.deadLetter.stream}:${spec.deadLetter.subject}`;
  return {
    durable_name: spec.durableName,
    description: spec.description ?? '',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DELIVER[spec.deliverPolicy],
    filter_subjects: [...spec.filterSubjects],
    ack_wait: msToNanos(parseDuration(spec.ackWait)),
    max_deliver: spec.maxDeliver,
    backoff: spec.backoff.map((step) => msToNanos(parseDuration(step))),
    max_ack_pending: spec.maxAckPending,
    metadata,
  };
}

export type Difference = { field: string; want: unknown; have: unknown };

/** Fields JetStream refuses to change on an existing stream or consumer: changing them needs a new object. */
export const IMMUTABLE_STREAM_FIELDS = ['storage', 'retention'] as const;
export const IMMUTABLE_CONSUMER_FIELDS = ['deliver_policy', 'ack_policy'] as const;

/** JSON with object keys sorted: the server returns maps (metadata) in its own order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, item]) => [key, canonical(item)]),
    );
  }
  return value;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** What the server reports for a field it was never given, so an absent field and its default compare equal. */
const STREAM_DEFAULTS: Partial<Record<keyof StreamConfig, unknown>> = {
  description: '',
  allow_msg_schedules: false,
  allow_atomic: false,
  allow_direct: false,
};

export function streamDifferences(current: Partial<StreamConfig>, desired: DesiredStream): Difference[] {
  const differences: Difference[] = [];
  for (const [field, want] of Object.entries(desired) as [keyof StreamConfig, unknown][]) {
    const have = current[field] ?? STREAM_DEFAULTS[field];
    if (!same(have, want)) differences.push({ field, want, have });
  }
  return differences;
}

/** A single filter may come back as `filter_subject`; metadata may carry server keys (`_nats.*`) besides ours. */
export function consumerDifferences(current: Partial<ConsumerConfig>, desired: DesiredConsumer): Difference[] {
  const differences: Difference[] = [];
  const normalized: Record<string, unknown> = {
    ...current,
    description: current.description ?? '',
    backoff: current.backoff ?? [],
    filter_subjects: current.filter_subjects?.length ? current.filter_subjects : current.filter_subject ? [current.filter_subject] : [],
    metadata: Object.fromEntries(
      Object.entries(current.metadata ?? {}).filter(([key]) => key in (desired.metadata ?? {}) || key.startsWith('jetsaga.dev/')),
    ),
  };
  for (const [field, want] of Object.entries(desired)) {
    const have = normalized[field];
    if (!same(have, want)) differences.push({ field, want, have });
  }
  return differences;
}

export function immutableChanges(differences: Difference[], immutable: readonly string[]): Difference[] {
  return differences.filter((difference) => immutable.includes(difference.field));
}

export function describeDifferences(differences: Difference[]): string {
  return differences.map(({ field, want, have }) => `${field}: ${JSON.stringify(have)} -> ${JSON.stringify(want)}`).join(', ');
}
