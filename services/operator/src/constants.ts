/**
 * Every name the operator writes into the cluster: API group, kinds, condition types and reasons, the finalizer,
 * the field manager and the Lease. One place, so a reader sees the operator's whole vocabulary at once.
 */
export const GROUP = 'jetsaga.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const KINDS = {
  EventStream: { kind: 'EventStream', plural: 'eventstreams' },
  EventConsumer: { kind: 'EventConsumer', plural: 'eventconsumers' },
  Projection: { kind: 'Projection', plural: 'projections' },
} as const;
export type KindName = keyof typeof KINDS;

/** Server-side apply: every write of the operator (status, finalizers) is owned by this one manager. */
export const FIELD_MANAGER = 'jetsaga-operator';

/** Held on streams and consumers until the JetStream object is deleted (or left alone under preventDelete). */
export const FINALIZER = 'jetsaga.dev/jetstream-cleanup';

/** The Lease's default name; the chart names it per release (<release>-operator, LEASE_NAME). */
export const LEASE_NAME = 'jetsaga-operator';

export const CONDITION_READY = 'Ready';

export const REASONS = {
  /** Deletion: the JetStream object is deleted, or kept because of preventDelete. */
  Deleting: 'Deleting',
  /** The JetStream object matches the spec. */
  InSync: 'InSync',
  /** The JetStream object did not exist and was created in this pass. */
  Created: 'Created',
  /** The JetStream object differed from the spec (an edit, or drift) and was updated in this pass. */
  Updated: 'Updated',
  /** The spec is not valid; nothing is done until it changes. */
  InvalidSpec: 'InvalidSpec',
  /** The change needs a field JetStream cannot change in place (storage, retention, deliver policy). */
  ImmutableField: 'ImmutableField',
  /** The stream a consumer reads, or its dead-letter stream, does not exist yet. */
  StreamMissing: 'StreamMissing',
  /** JetStream or the event store refused the request (the message says why). */
  Rejected: 'Rejected',
  /** NATS, or the event store, did not answer; retried with backoff. */
  Unreachable: 'Unreachable',
  /** A projection is being rebuilt at its new version beside the live one. */
  Rebuilding: 'Rebuilding',
  /** The projection's live version is the declared one and it follows the stream. */
  Live: 'Live',
  /** The event store refused the rebuild or reported it failed. */
  RebuildFailed: 'RebuildFailed',
} as const;
export type Reason = (typeof REASONS)[keyof typeof REASONS];

/** Consumer metadata key naming its dead-letter subject, visible with `nats consumer info`. */
export const DEAD_LETTER_METADATA = 'jetsaga.dev/dead-letter';
export const MANAGED_BY_METADATA = 'jetsaga.dev/managed-by';
