import { describe, expect, it } from 'vitest';
import {
  loadTopologyConsumers,
  NATS_ADMIN_USER,
  natsAuthorizationConfig,
  natsUsers,
  passwordVariable,
  TOPOLOGY_DIR,
  type TopologyConsumer,
  topologyConsumers,
} from './nats-auth.js';

const consumers: TopologyConsumer[] = [
  { service: 'order', stream: 'EVENTS', durable: 'order', filterSubjects: ['events.*.*.SaleConfirmed'], deadLetterSubject: 'dlq.order' },
  {
    service: 'order',
    stream: 'DEADLINES',
    durable: 'order-deadlines',
    filterSubjects: ['deadlines.order.*.fired'],
    deadLetterSubject: 'dlq.order-deadlines',
  },
  { service: 'order', stream: 'DLQ', durable: 'order-redrive', filterSubjects: ['dlq.redrive.order'], deadLetterSubject: 'dlq.order' },
  {
    service: 'payment',
    stream: 'EVENTS',
    durable: 'payment',
    filterSubjects: ['events.*.*.StockReserved'],
    deadLetterSubject: 'dlq.payment',
  },
];
const owners = { order: 'order', cart: 'order', payment: 'payment', customer: 'payment', annotation: 'event-store' };

function userOf(name: string, list = consumers) {
  const user = natsUsers(list, owners).find((candidate) => candidate.user === name);
  if (!user) throw new Error(`no user ${name}`);
  return user;
}

describe('natsUsers', () => {
  it('gives the admin everything and every service a user of its own', () => {
    const users = natsUsers(consumers, owners);
    expect(users.map((user) => user.user)).toEqual([
      NATS_ADMIN_USER,
      'order',
      'inventory',
      'payment',
      'sales',
      'shipping',
      'notification',
      'support',
      'event-store',
      'audit',
      'gateway',
    ]);
    expect(users[0]!.permissions).toBeUndefined();
    for (const user of users.slice(1)) expect(user.permissions).toBeDefined();
  });

  it('lets a service publish the events of the aggregate types it owns and no others', () => {
    const { publish } = userOf('payment').permissions!;
    expect(publish.allow.filter((subject) => subject.startsWith('events.'))).toEqual(['events.payment.*.*', 'events.customer.*.*']);
    // (It may read StockReserved by subject, as its consumer delivers it: publishing is what is checked here.)
    expect(
      publish.allow.some((subject) => !subject.startsWith('$JS.') && (subject.includes('StockReserved') || subject === 'events.>')),
    ).toBe(false);
  });

  it("lets a service schedule and cancel the deadlines it consumes, publish its dead letters and its outbox's", () => {
    const { publish } = userOf('order').permissions!;
    expect(publish.allow).toEqual(
      expect.arrayContaining([
        'deadlines.order.*.schedule',
        'deadlines.order.*.cancelled',
        'dlq.order',
        'dlq.order-deadlines',
        'dlq.outbox-orders',
      ]),
    );
    expect(publish.allow).not.toContain('deadlines.order.*.fired');
    expect(userOf('payment').permissions!.publish.allow.some((subject) => subject.startsWith('deadlines.'))).toBe(false);
  });

  it('lets a service pull from and ack its own durable consumers only, and manage nothing', () => {
    const { publish, subscribe } = userOf('order').permissions!;
    const api = publish.allow.filter((subject) => subject.startsWith('$JS.'));
    expect(api).toEqual([
      '$JS.API.INFO',
      '$JS.API.STREAM.INFO.DLQ',
      '$JS.API.CONSUMER.INFO.EVENTS.order',
      '$JS.API.CONSUMER.MSG.NEXT.EVENTS.order',
      '$JS.ACK.EVENTS.order.>',
      ...consumers
        .filter((consumer) => consumer.durable === 'order')
        .flatMap((consumer) => consumer.filterSubjects.map((filter) => `$JS.API.DIRECT.GET.EVENTS.${filter}`)),
      '$JS.API.CONSUMER.INFO.DEADLINES.order-deadlines',
      '$JS.API.CONSUMER.MSG.NEXT.DEADLINES.order-deadlines',
      '$JS.ACK.DEADLINES.order-deadlines.>',
      '$JS.API.CONSUMER.INFO.DLQ.order-redrive',
      '$JS.API.CONSUMER.MSG.NEXT.DLQ.order-redrive',
      '$JS.ACK.DLQ.order-redrive.>',
    ]);
    expect(api.filter((subject) => /STREAM\.(CREATE|UPDATE|DELETE|PURGE)|CONSUMER\.(CREATE|DURABLE|DELETE)/.test(subject))).toEqual([]);
    expect(api.filter((subject) => subject.endsWith('>') && !subject.startsWith('$JS.ACK.'))).toEqual([]);
    // Reads by subject (direct gets) only of EVENTS, only of what its consumer delivers: no direct get of DLQ or DEADLINES.
    expect(
      api
        .filter((subject) => subject.startsWith('$JS.API.DIRECT.GET.'))
        .every((subject) => subject.startsWith('$JS.API.DIRECT.GET.EVENTS.events.')),
    ).toBe(true);
    expect(api).toContain('$JS.API.DIRECT.GET.EVENTS.events.*.*.SaleConfirmed');
    expect(subscribe.allow).toEqual(['_INBOX.order.>']);
  });

  it('follows the topology: a new consumer of a service widens that service alone', () => {
    const extra: TopologyConsumer = {
      service: 'sales',
      stream: 'EVENTS',
      durable: 'sales-orders',
      filterSubjects: ['events.*.*.OrderPlaced'],
      deadLetterSubject: 'dlq.sales-orders',
    };
    const before = natsUsers(consumers, owners);
    const after = natsUsers([...consumers, extra], owners);
    expect(after.find((user) => user.user === 'sales')!.permissions!.publish.allow).toEqual(
      expect.arrayContaining(['$JS.API.CONSUMER.MSG.NEXT.EVENTS.sales-orders', 'dlq.sales-orders']),
    );
    for (const name of ['order', 'payment', 'inventory']) {
      expect(after.find((user) => user.user === name)).toEqual(before.find((user) => user.user === name));
    }
  });

  it('lets the event store read, redrive and delete dead letters, but never touch a declared consumer or a stream', () => {
    const { publish } = userOf('event-store').permissions!;
    expect(publish.allow).toEqual(
      expect.arrayContaining([
        'events.annotation.*.*',
        'dlq.*',
        'dlq.redrive.*',
        '$JS.API.CONSUMER.CREATE.EVENTS.>',
        '$JS.API.STREAM.MSG.GET.EVENTS',
        '$JS.API.STREAM.MSG.DELETE.DLQ',
      ]),
    );
    expect(publish.allow.some((subject) => /STREAM\.(CREATE|UPDATE|DELETE|PURGE)/.test(subject))).toBe(false);
    expect(publish.deny).toEqual(
      expect.arrayContaining([
        '$JS.API.CONSUMER.CREATE.EVENTS.order',
        '$JS.API.CONSUMER.CREATE.EVENTS.order.>',
        '$JS.API.CONSUMER.DELETE.EVENTS.payment',
        '$JS.API.CONSUMER.DELETE.DLQ.order-redrive',
      ]),
    );
  });

  it('lets the gateway follow EVENTS through consumers of its own, and publish nothing', () => {
    const { publish, subscribe } = userOf('gateway').permissions!;
    expect(publish.allow).toEqual(
      expect.arrayContaining([
        '$JS.API.CONSUMER.CREATE.EVENTS.>',
        '$JS.API.CONSUMER.MSG.NEXT.EVENTS.>',
        '$JS.API.CONSUMER.DELETE.EVENTS.>',
      ]),
    );
    expect(publish.allow.some((subject) => /^(events|deadlines|dlq)\./.test(subject))).toBe(false);
    expect(publish.allow.some((subject) => /STREAM\.(CREATE|UPDATE|DELETE|PURGE|MSG)|\.DLQ|\.DEADLINES/.test(subject))).toBe(false);
    expect(publish.deny).toEqual(
      expect.arrayContaining(['$JS.API.CONSUMER.CREATE.EVENTS.order', '$JS.API.CONSUMER.DELETE.EVENTS.payment']),
    );
    expect(subscribe.allow).toEqual(['_INBOX.gateway.>']);
  });

  it('refuses a consumer that names no known service', () => {
    expect(() => natsUsers([{ ...consumers[0]!, service: 'nobody' }], owners)).toThrow(/nobody|order/);
  });
});

describe('k8s/topology', () => {
  it('names a service for every consumer, so each one has exactly one user that may pull from it', async () => {
    const declared = await loadTopologyConsumers(TOPOLOGY_DIR);
    expect(declared.length).toBeGreaterThan(0);
    const users = natsUsers(declared);
    for (const consumer of declared) {
      const next = `$JS.API.CONSUMER.MSG.NEXT.${consumer.stream}.${consumer.durable}`;
      const pullers = users.filter((user) => user.permissions?.publish.allow.includes(next)).map((user) => user.user);
      expect(pullers, consumer.durable).toEqual([consumer.service]);
    }
  });

  it('reads the consumers of a topology text and requires the service label', () => {
    const text = [
      'kind: EventConsumer',
      'metadata: { name: a, labels: { jetsaga.dev/service: sales } }',
      'spec: { stream: EVENTS, durableName: a, filterSubjects: [x], deadLetter: { stream: DLQ, subject: dlq.a } }',
      '---',
      'kind: EventStream',
      'metadata: { name: s }',
      'spec: { name: S }',
    ].join('\n');
    expect(topologyConsumers(text)).toEqual([
      { service: 'sales', stream: 'EVENTS', durable: 'a', filterSubjects: ['x'], deadLetterSubject: 'dlq.a' },
    ]);
    expect(() => topologyConsumers('kind: EventConsumer\nmetadata: { name: b }\nspec: { stream: EVENTS, durableName: b }')).toThrow(
      /jetsaga.dev\/service/,
    );
  });
});

describe('natsAuthorizationConfig', () => {
  it('writes literal passwords for local servers and variables for the chart', () => {
    const users = natsUsers(consumers, owners);
    const local = natsAuthorizationConfig(users, () => 's3cret');
    expect(local).toContain('user: "admin", password: "s3cret"');
    expect(local).toContain('"events.order.*.*"');
    const chart = natsAuthorizationConfig(users, (user) => `$${passwordVariable(user)}`);
    expect(chart).toContain('password: $NATS_PASSWORD_EVENT_STORE');
    expect(chart).not.toContain('s3cret');
  });
});
