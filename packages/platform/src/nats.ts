import {
  ADVISORIES_STREAM,
  DEADLINES_STREAM,
  DEADLINES_SUBJECTS,
  DLQ_STREAM,
  DLQ_SUBJECTS,
  type DomainEvent,
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  MAX_DELIVERIES_ADVISORIES,
  parseEvent,
} from '@jetsaga/events';
import {
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

export type { NatsConnection };

/**
 * Who a client is to NATS: a user and password (every server of the system refuses anonymous clients), the inbox
 * prefix its user may subscribe to (`_INBOX.<user>`; replies to another user's requests stay out of reach), and TLS
 * (a CA file to verify the server by, or `tls` alone to use the system's trust store).
 */
export type NatsAccess = { user?: string; password?: string; inboxPrefix?: string; tlsCaFile?: string; tls?: boolean };

/** The inbox prefix a user's permissions allow (`_INBOX.<user>.>`; packages/devstack/src/nats-auth.ts inboxPrefixOf). */
export function natsInboxPrefix(user: string): string {
  return `_INBOX.${user}`;
}

export async function connectNats(url: string, name: string, access: NatsAccess = {}): Promise<NatsConnection> {
  return connect({
    servers: url.split(','),
    name,
    ...(access.user ? { user: access.user, pass: access.password ?? '' } : {}),
    ...(access.user ? { inboxPrefix: access.inboxPrefix ?? natsInboxPrefix(access.user) } : {}),
    ...(access.tlsCaFile ? { tls: { caFile: access.tlsCaFile } } : access.tls ? { tls: {} } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // Reconnect buffering is what lets a publish issued during a server restart still reach it.
    reconnectJitter: 100,
    // Each request would otherwise capture a stack trace for an error it almost never raises (2-3 % of CPU).
    noAsyncTraces: true,
  });
}

export type StreamSpec = Pick<StreamConfig, 'name' | 'subjects'> & Partial<StreamConfig>;

const HOUR_NS = nanos(60 * 60 * 1000);

/**
 * The event topology's streams. EVENTS keeps domain events forever; DEADLINES holds saga timers
 * (JetStream message schedules); DLQ keeps what could not be processed, for inspection and redrive.
 * k8s/topology/streams.yaml is their source: services/operator/src/topology.unit.test.ts fails on any drift.
 */
export function streamSpecs(replicas = 1): StreamSpec[] {
  const common = { storage: StorageType.File, num_replicas: replicas, discard: DiscardPolicy.Old };
  return [
    {
      ...common,
      name: EVENTS_STREAM,
      subjects: [EVENTS_SUBJECTS],
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(2 * 60 * 1000),
      // Appends of several events to one aggregate are one atomic batch (server 2.12+).
      allow_atomic: true,
      // Direct gets of a subject's last event (sales reads an order's OrderPlaced from the log, ADR 0062).
      allow_direct: true,
      description: 'Every domain event of every service (the event log).',
    },
    {
      ...common,
      name: DEADLINES_STREAM,
      subjects: [DEADLINES_SUBJECTS],
      retention: RetentionPolicy.Limits,
      allow_msg_schedules: true,
      max_age: 24 * HOUR_NS,
      duplicate_window: nanos(2 * 60 * 1000),
      description: 'Saga deadlines as JetStream message schedules.',
    },
    {
      ...common,
      name: DLQ_STREAM,
      subjects: [DLQ_SUBJECTS],
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(2 * 60 * 1000),
      description: 'Dead letters: messages that exhausted their attempts or could never be processed.',
    },
    {
      ...common,
      name: ADVISORIES_STREAM,
      subjects: [MAX_DELIVERIES_ADVISORIES],
      retention: RetentionPolicy.Limits,
      max_age: 7 * 24 * HOUR_NS,
      description: 'JetStream max-deliveries advisories, kept so that no message escapes the DLQ.',
    },
  ];
}

/** What the server reports for a field it was never given, so an absent field and its default compare equal. */
const STREAM_DEFAULTS: Partial<Record<keyof StreamConfig, unknown>> = {
  description: '',
  max_age: 0,
  max_msgs: -1,
  max_bytes: -1,
  duplicate_window: nanos(2 * 60 * 1000),
  allow_msg_schedules: false,
  allow_atomic: false,
  allow_direct: false,
};

/**
 * Where a stream's config differs from its spec, over the fields either one sets (a field only one of them sets must
 * hold the server's default on the other side). Pure; the topology unit test runs it against k8s/topology.
 */
export function streamDrift(spec: StreamSpec, config: Partial<StreamConfig>): { field: string; want: unknown; have: unknown }[] {
  const fields = new Set([...Object.keys(spec), ...Object.keys(config)] as (keyof StreamConfig)[]);
  return [...fields].flatMap((field) => {
    const want = spec[field] ?? STREAM_DEFAULTS[field];
    const have = config[field] ?? STREAM_DEFAULTS[field];
    return JSON.stringify(want) === JSON.stringify(have) ? [] : [{ field, want, have }];
  });
}

/**
 * Creates the streams that are missing; with `update`, also brings existing ones to the declared settings.
 * Services only create (the topology's owner, the start script or the operator, updates). Idempotent.
 */
export async function ensureStreams(jsm: JetStreamManager, specs: StreamSpec[], options: { update?: boolean } = {}): Promise<void> {
  for (const spec of specs) {
    try {
      await jsm.streams.info(spec.name);
      if (options.update) await jsm.streams.update(spec.name, spec);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await jsm.streams.add(spec);
      } catch (addError) {
        // Another process created it between our look-up and our add.
        if (!/already in use|exists/i.test(String(addError))) throw addError;
      }
    }
  }
}

/** A message of EVENTS (its JSON envelope) as an event, validated. */
export function decodeEvent(data: Uint8Array): DomainEvent {
  return parseEvent(JSON.parse(new TextDecoder().decode(data)));
}

/**
 * The event log read by subject: for each subject, EVENTS' last event on it (a JetStream direct get, which any replica
 * may answer, so a follower a moment behind the leader can answer "none yet"), or undefined. Reads only subjects the
 * caller's NATS user may direct-get: those its consumers deliver (packages/devstack/src/nats-auth.ts).
 */
export type EventLog = (subjects: readonly string[]) => Promise<Array<DomainEvent | undefined>>;

export function eventLog(nc: NatsConnection, stream = EVENTS_STREAM): EventLog {
  let manager: Promise<JetStreamManager> | undefined;
  return async (subjects) => {
    manager ??= jetstreamManager(nc, { checkAPI: false });
    const jsm = await manager;
    return Promise.all(
      subjects.map(async (subject) => {
        const message = await jsm.direct.getMessage(stream, { last_by_subj: subject });
        return message ? decodeEvent(message.data) : undefined;
      }),
    );
  };
}

export function isNotFound(error: unknown): boolean {
  return /not found/i.test(String((error as Error)?.message ?? error));
}

export async function ensureTopology(nc: NatsConnection, options: { replicas?: number; update?: boolean } = {}): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, streamSpecs(options.replicas ?? 1), { update: options.update });
  return jsm;
}
