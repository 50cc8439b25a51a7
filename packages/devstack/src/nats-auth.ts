import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGGREGATE_OWNERS } from '@jetsaga/events';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/**
 * NATS users and their subject permissions, derived from the topology (k8s/topology: which service pulls from which
 * durable consumer, and where its dead letters go) and from the catalogue's aggregate owners. Nothing here is written
 * by hand per service: a new consumer or aggregate type changes the permissions by being declared. Pure, so the
 * local nats-server config (npm start, tests) and the chart's config come from the same function.
 */

/** One durable consumer of k8s/topology, as the derivation needs it. */
export type TopologyConsumer = {
  /** The service whose NATS user pulls from it (the `jetsaga.dev/service` label). */
  service: string;
  stream: string;
  durable: string;
  filterSubjects: readonly string[];
  /** `dlq.<consumer>`: the service publishes its dead letters there. */
  deadLetterSubject?: string;
};

export type SubjectPermissions = { allow: string[]; deny?: string[] };
export type NatsPermissions = { publish: SubjectPermissions; subscribe: SubjectPermissions };

/** A NATS user; `permissions` undefined means everything (the admin). */
export type NatsUser = { user: string; permissions?: NatsPermissions; inboxPrefix?: string };

/** The user that manages streams and consumers: `npm start`'s topology step, the test set-up, the operator. */
export const NATS_ADMIN_USER = 'admin';

/**
 * The services that talk to NATS, with the schema of their outbox (its relay dead-letters to `dlq.outbox-<schema>`).
 * The gateway only reads: its event stream (GET /api/stream/events) follows EVENTS through ordered consumers.
 */
export const NATS_SERVICES: Readonly<Record<string, { outboxSchema?: string }>> = {
  order: { outboxSchema: 'orders' },
  inventory: { outboxSchema: 'inventory' },
  payment: { outboxSchema: 'payment' },
  sales: { outboxSchema: 'sales' },
  shipping: { outboxSchema: 'shipping' },
  notification: { outboxSchema: 'notification' },
  support: { outboxSchema: 'support' },
  'event-store': { outboxSchema: 'eventstore' },
  audit: { outboxSchema: 'audit' },
  gateway: {},
};

/** Each user's replies arrive under its own inbox prefix, so no service can subscribe to another one's replies. */
export function inboxPrefixOf(user: string): string {
  return `_INBOX.${user}`;
}

const API = '$JS.API';

/** The streams that allow direct gets (k8s/topology: `allowDirect`). */
const DIRECT_STREAMS = ['EVENTS'];

/**
 * What pulling from one durable takes: its info, its pull requests, its acks (ack, nak, term, in progress). And a
 * direct get of the last message on any subject it delivers (the subject is in the request's subject, so the
 * permission holds): a service may read from the stream what its consumer would bring it anyway, no more. Sales reads
 * an order's OrderPlaced that way when its consumer of them lags (ADR 0062).
 */
function consumerSubjects(consumer: Pick<TopologyConsumer, 'stream' | 'durable' | 'filterSubjects'>): string[] {
  return [
    `${API}.CONSUMER.INFO.${consumer.stream}.${consumer.durable}`,
    `${API}.CONSUMER.MSG.NEXT.${consumer.stream}.${consumer.durable}`,
    `$JS.ACK.${consumer.stream}.${consumer.durable}.>`,
    ...(DIRECT_STREAMS.includes(consumer.stream)
      ? consumer.filterSubjects.map((filter) => `${API}.DIRECT.GET.${consumer.stream}.${filter}`)
      : []),
  ];
}

/** The aggregate types of `deadlines.<type>.*.fired` filters: a service that consumes a deadline also schedules it. */
function deadlineTypes(consumers: readonly TopologyConsumer[]): string[] {
  const types = new Set<string>();
  for (const consumer of consumers)
    for (const filter of consumer.filterSubjects) {
      const match = /^deadlines\.([A-Za-z0-9_-]+)\.\*\.fired$/.exec(filter);
      if (match) types.add(match[1] as string);
    }
  return [...types];
}

function unique(subjects: string[]): string[] {
  return [...new Set(subjects)];
}

/** A service's user: publish its own events, deadlines and dead letters; pull only from its own consumers. */
function serviceUser(service: string, consumers: readonly TopologyConsumer[], owners: Readonly<Record<string, string>>): NatsUser {
  const own = consumers.filter((consumer) => consumer.service === service);
  const ownedTypes = Object.entries(owners).flatMap(([type, owner]) => (owner === service ? [type] : []));
  const outbox = NATS_SERVICES[service]?.outboxSchema;
  const publish = [
    ...ownedTypes.map((type) => `events.${type}.*.*`),
    ...deadlineTypes(own).flatMap((type) => [`deadlines.${type}.*.schedule`, `deadlines.${type}.*.cancelled`]),
    ...own.flatMap((consumer) => (consumer.deadLetterSubject ? [consumer.deadLetterSubject] : [])),
    ...(outbox ? [`dlq.outbox-${outbox}`] : []),
    // Read-only: the client's JetStream check, and the dead-letter depth each service reports as a metric.
    `${API}.INFO`,
    `${API}.STREAM.INFO.DLQ`,
    ...own.flatMap(consumerSubjects),
  ];
  const user: NatsUser = {
    user: service,
    inboxPrefix: inboxPrefixOf(service),
    permissions: { publish: { allow: unique(publish) }, subscribe: { allow: [`${inboxPrefixOf(service)}.>`] } },
  };
  if (service === 'event-store') return eventStoreUser(user, consumers);
  if (service === 'gateway') return gatewayUser(user, consumers);
  return user;
}

/**
 * The gateway reads EVENTS and nothing else: ordered (ephemeral) consumers for its event stream (one live tail, and a
 * catch-up per resuming client), which it creates, pulls from and deletes itself. It publishes no event, deadline or dead letter (it owns no aggregate type and pulls
 * from no durable), may not touch a stream, and may not create or delete a consumer that k8s/topology declares.
 */
function gatewayUser(base: NatsUser, consumers: readonly TopologyConsumer[]): NatsUser {
  const allow = [
    `${API}.INFO`,
    `${API}.STREAM.INFO.EVENTS`,
    `${API}.CONSUMER.CREATE.EVENTS`,
    `${API}.CONSUMER.CREATE.EVENTS.>`,
    `${API}.CONSUMER.DELETE.EVENTS.>`,
    `${API}.CONSUMER.INFO.EVENTS.>`,
    `${API}.CONSUMER.MSG.NEXT.EVENTS.>`,
  ];
  const deny = consumers
    .filter((consumer) => consumer.stream === 'EVENTS')
    .flatMap((consumer) => [
      `${API}.CONSUMER.CREATE.EVENTS.${consumer.durable}`,
      `${API}.CONSUMER.CREATE.EVENTS.${consumer.durable}.>`,
      `${API}.CONSUMER.DELETE.EVENTS.${consumer.durable}`,
    ]);
  return { ...base, permissions: { publish: { allow, deny }, subscribe: base.permissions!.subscribe } };
}

/**
 * The event store reads everything: it mirrors EVENTS and reads DLQ through ordered (ephemeral) consumers, which it
 * creates and deletes itself, reads single messages (aggregate heads, mirror lag, advisories' originals), redrives and
 * deletes dead letters, and appends the open aggregate types. It may not touch any stream's configuration, nor create
 * or delete a consumer that k8s/topology declares by its name's subject (denied). The unnamed create subject, which
 * the client uses for a consumer with a list of filters, carries the name in the request, out of reach of subject
 * permissions: the event store's reads could pass one filter as a string to leave it unused.
 */
function eventStoreUser(base: NatsUser, consumers: readonly TopologyConsumer[]): NatsUser {
  const streams = ['EVENTS', 'DLQ'];
  const declared = consumers.filter((consumer) => streams.includes(consumer.stream));
  const allow = [
    ...(base.permissions?.publish.allow ?? []),
    // Dead letters for any consumer (the advisories' copies) and redrives back to any consumer.
    'dlq.*',
    'dlq.redrive.*',
    ...streams.flatMap((stream) => [
      `${API}.STREAM.INFO.${stream}`,
      `${API}.STREAM.MSG.GET.${stream}`,
      `${API}.CONSUMER.CREATE.${stream}.>`,
      // An ordered consumer with a filter list is created through the unnamed subject (the name is in the request).
      `${API}.CONSUMER.CREATE.${stream}`,
      `${API}.CONSUMER.DELETE.${stream}.>`,
      `${API}.CONSUMER.INFO.${stream}.>`,
      `${API}.CONSUMER.MSG.NEXT.${stream}.>`,
    ]),
    // An advisory's original message may sit in any stream a consumer reads.
    `${API}.STREAM.MSG.GET.DEADLINES`,
    `${API}.STREAM.MSG.DELETE.DLQ`,
  ];
  const deny = declared.flatMap((consumer) => [
    `${API}.CONSUMER.CREATE.${consumer.stream}.${consumer.durable}`,
    `${API}.CONSUMER.CREATE.${consumer.stream}.${consumer.durable}.>`,
    `${API}.CONSUMER.DELETE.${consumer.stream}.${consumer.durable}`,
  ]);
  return { ...base, permissions: { publish: { allow: unique(allow), deny }, subscribe: base.permissions!.subscribe } };
}

/** Every NATS user of the system: the admin, then one per service. */
export function natsUsers(consumers: readonly TopologyConsumer[], owners: Readonly<Record<string, string>> = AGGREGATE_OWNERS): NatsUser[] {
  const unknown = consumers.filter((consumer) => !(consumer.service in NATS_SERVICES));
  if (unknown.length > 0) {
    throw new Error(`consumers ${unknown.map((consumer) => consumer.durable).join(', ')} name no NATS service (jetsaga.dev/service)`);
  }
  return [{ user: NATS_ADMIN_USER }, ...Object.keys(NATS_SERVICES).map((service) => serviceUser(service, consumers, owners))];
}

type TopologyDocument = {
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { stream?: string; durableName?: string; filterSubjects?: string[]; deadLetter?: { subject?: string } };
};

/** The EventConsumer resources of a topology text (YAML, several documents). */
export function topologyConsumers(text: string, source = 'topology'): TopologyConsumer[] {
  return parseAllDocuments(text).flatMap((document) => {
    const object = document.toJS() as TopologyDocument | null;
    if (object?.kind !== 'EventConsumer') return [];
    const { metadata, spec } = object;
    const service = metadata?.labels?.['jetsaga.dev/service'];
    if (!service || !spec?.stream || !spec.durableName) {
      throw new Error(`${source}: EventConsumer ${metadata?.name ?? '?'} needs a jetsaga.dev/service label, a stream and a durableName`);
    }
    return [
      {
        service,
        stream: spec.stream,
        durable: spec.durableName,
        filterSubjects: spec.filterSubjects ?? [],
        ...(spec.deadLetter?.subject ? { deadLetterSubject: spec.deadLetter.subject } : {}),
      },
    ];
  });
}

/** Every EventConsumer of a topology directory (k8s/topology). */
export async function loadTopologyConsumers(dir: string): Promise<TopologyConsumer[]> {
  const files = (await readdir(dir)).filter((file) => /\.ya?ml$/.test(file)).sort();
  const consumers: TopologyConsumer[] = [];
  for (const file of files) consumers.push(...topologyConsumers(await readFile(join(dir, file), 'utf8'), file));
  return consumers;
}

/** A password per user: 32 random bytes, URL-safe base64 (no character the config format would need quoted). */
export function generatePasswords(users: readonly string[]): Record<string, string> {
  return Object.fromEntries(users.map((user) => [user, randomBytes(24).toString('base64url')]));
}

/** The environment variable the chart's nats-server reads a user's password from (`NATS_PASSWORD_EVENT_STORE`). */
export function passwordVariable(user: string): string {
  return `NATS_PASSWORD_${user.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function quoted(value: string): string {
  return JSON.stringify(value);
}

function subjectList(subjects: readonly string[]): string {
  return `[${subjects.map(quoted).join(', ')}]`;
}

/**
 * nats-server's `authorization { users = [...] }` block. `password` gives each user's password as the config should
 * say it: a literal (local runs, tests) or a `$VARIABLE` the server resolves from its environment (the chart).
 */
export function natsAuthorizationConfig(users: readonly NatsUser[], password: (user: string) => string): string {
  const lines = ['authorization {', '  users = ['];
  for (const user of users) {
    const pass = password(user.user);
    const passText = pass.startsWith('$') ? pass : quoted(pass);
    if (!user.permissions) {
      lines.push(`    { user: ${quoted(user.user)}, password: ${passText} }`);
      continue;
    }
    const { publish, subscribe } = user.permissions;
    lines.push(`    {`, `      user: ${quoted(user.user)}, password: ${passText}`, '      permissions: {');
    lines.push(
      `        publish: { allow: ${subjectList(publish.allow)}${publish.deny?.length ? `, deny: ${subjectList(publish.deny)}` : ''} }`,
    );
    lines.push(`        subscribe: { allow: ${subjectList(subscribe.allow)} }`);
    lines.push('      }', '    }');
  }
  lines.push('  ]', '}', '');
  return lines.join('\n');
}

/** What a client needs to connect as one user. */
export type NatsCredentials = { user: string; password: string; inboxPrefix?: string };

/** The admin's credentials: what the topology step, the test set-up and the operator connect with. */
export function adminCredentials(auth: NatsAuth): NatsCredentials {
  return credentialsOf(auth, NATS_ADMIN_USER);
}

/** A whole system's NATS access: the users (permissions) and their passwords. */
export type NatsAuth = { users: NatsUser[]; passwords: Record<string, string> };

export function credentialsOf(auth: NatsAuth, user: string): NatsCredentials {
  const password = auth.passwords[user];
  if (!password) throw new Error(`no NATS password for user ${user}`);
  const inboxPrefix = auth.users.find((candidate) => candidate.user === user)?.inboxPrefix;
  return { user, password, ...(inboxPrefix ? { inboxPrefix } : {}) };
}

/** The one topology source (the operator reconciles the same files in a cluster). */
export const TOPOLOGY_DIR = fileURLToPath(new URL('../../../k8s/topology', import.meta.url));

/** The users of a topology directory, with passwords (given, or new ones for a test run). */
export async function natsAuthFor(passwords?: Record<string, string>, topologyDir = TOPOLOGY_DIR): Promise<NatsAuth> {
  const users = natsUsers(await loadTopologyConsumers(topologyDir));
  return { users, passwords: passwords ?? generatePasswords(users.map((user) => user.user)) };
}
