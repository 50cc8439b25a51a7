import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { type ConditionUpdate } from './conditions.js';
import { REASONS } from './constants.js';
import {
  consumerDifferences,
  describeDifferences,
  desiredConsumerConfig,
  desiredStreamConfig,
  IMMUTABLE_CONSUMER_FIELDS,
  IMMUTABLE_STREAM_FIELDS,
  immutableChanges,
  streamDifferences,
} from './desired.js';
import type { ConsumerFigures, EventConsumerSpec, EventStreamSpec, StreamFigures } from './resources.js';

/**
 * One reconcile step for a stream or a consumer: at most one change to JetStream per call, and what the resource's
 * status should say about it. The Kubernetes controller and `npm start` (k8s/topology without a cluster) both drive
 * these steps; they differ only in where the spec comes from and where the status goes.
 */
export type StepOutcome<F> = {
  action: 'created' | 'updated' | 'none' | 'blocked';
  condition: ConditionUpdate;
  figures?: F;
  /** 'now' after a change (the next pass verifies it), 'later' for a periodic drift check, 'backoff' on trouble. */
  requeue: 'now' | 'later' | 'backoff' | 'never';
};

export function isNotFound(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.status === 404;
  return /not found/i.test(String((error as Error)?.message ?? error));
}

/** A refusal from the JetStream API (bad config, limits) is reported; anything else (connection) is retried. */
export function failureOutcome<F>(error: unknown): StepOutcome<F> {
  if (error instanceof JetStreamApiError) {
    return { action: 'blocked', condition: { status: 'False', reason: REASONS.Rejected, message: error.message }, requeue: 'backoff' };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { action: 'blocked', condition: { status: 'False', reason: REASONS.Unreachable, message }, requeue: 'backoff' };
}

export async function reconcileStream(jsm: JetStreamManager, spec: EventStreamSpec): Promise<StepOutcome<StreamFigures>> {
  const desired = desiredStreamConfig(spec);
  try {
    let info;
    try {
      info = await jsm.streams.info(spec.name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.streams.add(desired);
      return {
        action: 'created',
        condition: { status: 'False', reason: REASONS.Created, message: `stream ${spec.name} created` },
        requeue: 'now',
      };
    }
    const differences = streamDifferences(info.config, desired);
    const immutable = immutableChanges(differences, IMMUTABLE_STREAM_FIELDS);
    if (immutable.length > 0) {
      const message = `JetStream cannot change ${describeDifferences(immutable)} in place; delete and recreate the stream`;
      return { action: 'blocked', condition: { status: 'False', reason: REASONS.ImmutableField, message }, requeue: 'later' };
    }
    if (differences.length > 0) {
      await jsm.streams.update(spec.name, desired);
      const message = `stream ${spec.name} updated: ${describeDifferences(differences)}`;
      return { action: 'updated', condition: { status: 'False', reason: REASONS.Updated, message }, requeue: 'now' };
    }
    const { state } = info;
    return {
      action: 'none',
      condition: { status: 'True', reason: REASONS.InSync, message: `stream ${spec.name} matches the spec` },
      figures: {
        messages: state.messages,
        bytes: state.bytes,
        firstSequence: state.first_seq,
        lastSequence: state.last_seq,
        consumers: state.consumer_count,
      },
      requeue: 'later',
    };
  } catch (error) {
    return failureOutcome(error);
  }
}

export async function reconcileConsumer(jsm: JetStreamManager, spec: EventConsumerSpec): Promise<StepOutcome<ConsumerFigures>> {
  const desired = desiredConsumerConfig(spec);
  const where = `consumer ${spec.stream}/${spec.durableName}`;
  try {
    try {
      await jsm.streams.info(spec.stream);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      return {
        action: 'blocked',
        condition: { status: 'False', reason: REASONS.StreamMissing, message: `stream ${spec.stream} does not exist` },
        requeue: 'backoff',
      };
    }
    if (spec.deadLetter) {
      // Failures are routed, never silent: a consumer whose dead letters would have nowhere to go is not Ready.
      const owner = await jsm.streams.find(spec.deadLetter.subject).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (owner !== spec.deadLetter.stream) {
        const message = `dead-letter subject ${spec.deadLetter.subject} is not captured by stream ${spec.deadLetter.stream}`;
        return { action: 'blocked', condition: { status: 'False', reason: REASONS.StreamMissing, message }, requeue: 'backoff' };
      }
    }
    let info;
    try {
      info = await jsm.consumers.info(spec.stream, spec.durableName);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.consumers.add(spec.stream, desired);
      return { action: 'created', condition: { status: 'False', reason: REASONS.Created, message: `${where} created` }, requeue: 'now' };
    }
    const differences = consumerDifferences(info.config, desired);
    const immutable = immutableChanges(differences, IMMUTABLE_CONSUMER_FIELDS);
    if (immutable.length > 0) {
      const message = `JetStream cannot change ${describeDifferences(immutable)} in place; delete and recreate the consumer`;
      return { action: 'blocked', condition: { status: 'False', reason: REASONS.ImmutableField, message }, requeue: 'later' };
    }
    if (differences.length > 0) {
      await jsm.consumers.update(spec.stream, spec.durableName, desired);
      const message = `${where} updated: ${describeDifferences(differences)}`;
      return { action: 'updated', condition: { status: 'False', reason: REASONS.Updated, message }, requeue: 'now' };
    }
    return {
      action: 'none',
      condition: { status: 'True', reason: REASONS.InSync, message: `${where} matches the spec` },
      figures: {
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
        waiting: info.num_waiting,
        delivered: info.delivered.stream_seq,
      },
      requeue: 'later',
    };
  } catch (error) {
    return failureOutcome(error);
  }
}

/** Deletes the stream; an already missing one is fine (deletion is retried until it succeeds). */
export async function deleteStream(jsm: JetStreamManager, spec: Pick<EventStreamSpec, 'name'>): Promise<void> {
  try {
    await jsm.streams.delete(spec.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export async function deleteConsumer(jsm: JetStreamManager, spec: Pick<EventConsumerSpec, 'stream' | 'durableName'>): Promise<void> {
  try {
    await jsm.consumers.delete(spec.stream, spec.durableName);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
