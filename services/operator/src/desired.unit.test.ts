import { describe, expect, it } from 'vitest';
import { setCondition } from './conditions.js';
import { DEAD_LETTER_METADATA, REASONS } from './constants.js';
import {
  consumerDifferences,
  desiredConsumerConfig,
  desiredStreamConfig,
  immutableChanges,
  IMMUTABLE_STREAM_FIELDS,
  streamDifferences,
} from './desired.js';
import { InvalidDurationError, parseDuration } from './durations.js';
import { eventConsumerSpec, eventStreamSpec, InvalidSpecError, parseSpec } from './resources.js';

const stream = (spec: Record<string, unknown>) => parseSpec(eventStreamSpec, { name: 'EVENTS', subjects: ['events.>'], ...spec });
const consumer = (spec: Record<string, unknown>) =>
  parseSpec(eventConsumerSpec, { stream: 'EVENTS', durableName: 'order', filterSubjects: ['events.*.*.OrderPlaced'], ...spec });

describe('durations', () => {
  it('reads Go-style durations and rejects anything else', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('0')).toBe(0);
    expect(() => parseDuration('forever')).toThrow(InvalidDurationError);
    expect(() => parseDuration('10')).toThrow(InvalidDurationError);
  });
});

describe('desired stream', () => {
  it('maps the spec onto JetStream config with defaults: file storage, R1, limits, kept forever, 2 min dedupe', () => {
    expect(desiredStreamConfig(stream({}))).toEqual({
      name: 'EVENTS',
      subjects: ['events.>'],
      description: '',
      storage: 'file',
      num_replicas: 1,
      retention: 'limits',
      discard: 'old',
      max_age: 0,
      max_msgs: -1,
      max_bytes: -1,
      duplicate_window: 120_000_000_000,
      allow_msg_schedules: false,
      allow_direct: false,
    });
  });

  it('turns on schedules, atomic batches, replicas and age limits when declared', () => {
    expect(
      desiredStreamConfig(
        stream({ replicas: 3, maxAge: '24h', allowMsgSchedules: true, allowAtomic: true, allowDirect: true, storage: 'Memory' }),
      ),
    ).toMatchObject({
      allow_direct: true,
      num_replicas: 3,
      max_age: 86_400_000_000_000,
      allow_msg_schedules: true,
      allow_atomic: true,
      storage: 'memory',
    });
  });

  it('sees no difference against what the server reports for the same stream (defaults and extra fields ignored)', () => {
    const desired = desiredStreamConfig(stream({}));
    const reported = {
      ...desired,
      description: undefined,
      allow_msg_schedules: undefined,
      allow_direct: undefined,
      sealed: false,
      deny_delete: false,
      max_consumers: -1,
    };
    expect(streamDifferences(reported, desired)).toEqual([]);
  });

  it('names each drifted field, and flags storage as one JetStream cannot change in place', () => {
    const desired = desiredStreamConfig(stream({ maxAge: '1h' }));
    const differences = streamDifferences({ ...desired, max_age: 0, storage: 'memory' }, desired);
    expect(differences.map((difference) => difference.field)).toEqual(['storage', 'max_age']);
    expect(immutableChanges(differences, IMMUTABLE_STREAM_FIELDS).map((difference) => difference.field)).toEqual(['storage']);
  });

  it('rejects specs the reconcile code could not apply', () => {
    expect(() => stream({ subjects: [] })).toThrow(InvalidSpecError);
    expect(() => stream({ replicas: 9, name: 'bad name' })).toThrow(/spec\.name.*spec\.replicas/);
    expect(() => stream({ maxAge: '1 day' })).toThrow(/spec\.maxAge/);
  });
});

describe('desired consumer', () => {
  it('is a durable explicit-ack pull consumer with the filters, limits and dead-letter target declared', () => {
    const config = desiredConsumerConfig(
      consumer({ maxDeliver: 6, ackWait: '30s', backoff: ['1s', '5s'], deadLetter: { stream: 'DLQ', subject: 'dlq.order' } }),
    );
    expect(config).toMatchObject({
      durable_name: 'order',
      ack_policy: 'explicit',
      deliver_policy: 'all',
      filter_subjects: ['events.*.*.OrderPlaced'],
      ack_wait: 30_000_000_000,
      max_deliver: 6,
      backoff: [1_000_000_000, 5_000_000_000],
      max_ack_pending: 1000,
    });
    expect(config.metadata?.[DEAD_LETTER_METADATA]).toBe('DLQ:dlq.order');
  });

  it('reads a single filter reported as filter_subject, and ignores server metadata keys', () => {
    const desired = desiredConsumerConfig(consumer({}));
    const reported = {
      ...desired,
      filter_subjects: undefined,
      filter_subject: 'events.*.*.OrderPlaced',
      backoff: undefined,
      metadata: { ...desired.metadata, '_nats.ver': '2.15.2', '_nats.level': '1' },
    };
    expect(consumerDifferences(reported, desired)).toEqual([]);
  });

  it('notices a changed filter and a changed max deliver', () => {
    const desired = desiredConsumerConfig(
      consumer({ maxDeliver: 8, filterSubjects: ['events.*.*.OrderPlaced', 'events.*.*.OrderCancelled'] }),
    );
    const reported = { ...desired, max_deliver: 6, filter_subjects: ['events.*.*.OrderPlaced'] };
    expect(consumerDifferences(reported, desired).map((difference) => difference.field)).toEqual(['filter_subjects', 'max_deliver']);
  });
});

describe('conditions', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const t1 = new Date('2026-01-01T00:01:00Z');

  it('keeps lastTransitionTime while the status stays, moves it when the status changes, and records the generation', () => {
    const created = setCondition(undefined, 'Ready', { status: 'False', reason: REASONS.Created, message: 'created' }, 1, t0);
    const same = setCondition(created, 'Ready', { status: 'False', reason: REASONS.Updated, message: 'updated' }, 2, t1);
    expect(same[0]).toMatchObject({ reason: 'Updated', observedGeneration: 2, lastTransitionTime: t0.toISOString() });
    const ready = setCondition(same, 'Ready', { status: 'True', reason: REASONS.InSync, message: 'ok' }, 2, t1);
    expect(ready).toEqual([
      { type: 'Ready', status: 'True', reason: 'InSync', message: 'ok', observedGeneration: 2, lastTransitionTime: t1.toISOString() },
    ]);
  });
});
