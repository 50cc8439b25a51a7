import { adminCredentials, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { type DomainEvent, EVENTS_STREAM, eventSubject, eventTypeFilter, uuidv7 } from '@jetsaga/events';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EventConsumer } from './consumer.js';
import { PermanentError } from './errors.js';
import { createLogger } from './log.js';
import { connectNats, ensureTopology, type NatsConnection } from './nats.js';
import { decodeEvent } from './service.js';
import { orderCompleted } from './events.fixture.js';

let nats: NatsServer;
let nc: NatsConnection;
const log = createLogger('consumer-test', 'silent');

async function publish(event: DomainEvent): Promise<void> {
  await jetstream(nc).publish(eventSubject(event.aggregateType, event.aggregateId, event.type), JSON.stringify(event), { msgID: event.id });
}

async function deadLetters(consumer: string) {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info('DLQ');
  const found = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage('DLQ', { seq });
    if (message?.subject === `dlq.${consumer}`) found.push(message);
  }
  return found;
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  nc = await connectNats(nats.url, 'consumer-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(nc);
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe('event consumer', () => {
  it('retries a transient failure on its backoff schedule, then succeeds', async () => {
    const event = orderCompleted('consumer-test');
    const attempts: number[] = [];
    const consumer = new EventConsumer({
      createMissing: true,
      nc,
      log,
      spec: { stream: EVENTS_STREAM, durable: 'retrying', filterSubjects: [eventTypeFilter('OrderCompleted')], backoffMs: [50, 100] },
      decode: decodeEvent,
      handle: async (_message, delivery) => {
        attempts.push(delivery.deliveryCount);
        if (delivery.deliveryCount < 3) throw new Error('database briefly unavailable');
      },
    });
    await consumer.start();
    await publish(event);
    await waitFor('the third attempt to succeed', async () => attempts.includes(3), 20_000);
    await consumer.stop();
    expect(attempts).toEqual([1, 2, 3]);
    expect(await deadLetters('retrying')).toEqual([]);
  });

  it('runs the default schedule in full: redelivered after 1 s, 5 s, 30 s and 60 s, dead-lettered after the fifth attempt', async () => {
    const event = orderCompleted('consumer-test');
    // The server keeps the time: every delay the schedule asks for reaches it fifty times shorter, so the whole schedule
    // (96 s) runs in about two seconds, and the gaps between deliveries show the server honoured each delay.
    const COMPRESSION = 50;
    const asked: number[] = [];
    const deliveries: Array<{ attempt: number; at: number }> = [];
    const consumer = new EventConsumer({
      createMissing: true,
      nc,
      log,
      // No backoffMs and no maxAttempts: what every service's consumers get.
      spec: { stream: EVENTS_STREAM, durable: 'default-schedule', filterSubjects: [eventTypeFilter('OrderCompleted')] },
      decode: decodeEvent,
      redeliveryDelay: (scheduledMs) => {
        asked.push(scheduledMs);
        return scheduledMs / COMPRESSION;
      },
      handle: async (message, delivery) => {
        if (message.id !== event.id) return;
        deliveries.push({ attempt: delivery.deliveryCount, at: performance.now() });
        throw new Error('database briefly unavailable');
      },
    });
    await consumer.start();
    await publish(event);
    const dead = await waitFor('the event to be dead-lettered', async () => {
      const found = (await deadLetters('default-schedule')).filter((message) => (message.json() as { id: string }).id === event.id);
      return found.length > 0 ? found : undefined;
    });
    const info = await (await jetstreamManager(nc)).consumers.info(EVENTS_STREAM, 'default-schedule');
    await consumer.stop();

    // The schedule the README promises, asked once per failed attempt but the last.
    expect(asked).toEqual([1000, 5000, 30_000, 60_000]);
    expect(deliveries.map((delivery) => delivery.attempt)).toEqual([1, 2, 3, 4, 5]);
    for (const [index, delay] of asked.entries()) {
      const gap = (deliveries[index + 1]?.at ?? 0) - (deliveries[index]?.at ?? 0);
      expect(gap, `gap after attempt ${index + 1}`).toBeGreaterThanOrEqual(delay / COMPRESSION - 1);
    }
    expect(dead).toHaveLength(1);
    expect(dead[0]?.header.get('Jetsaga-Dlq-Reason')).toBe('exhausted');
    expect(dead[0]?.header.get('Jetsaga-Dlq-Attempts')).toBe('5');
    // The server would deliver once more than the handler's budget (a process killed in its last attempt), no sooner.
    expect(info.config.max_deliver).toBeGreaterThan(5);
  });

  it('dead-letters poison at once and keeps consuming what follows', async () => {
    const handled: string[] = [];
    const consumer = new EventConsumer({
      createMissing: true,
      nc,
      log,
      spec: { stream: EVENTS_STREAM, durable: 'poison', filterSubjects: ['events.order.*.OrderCompleted'], backoffMs: [50] },
      decode: decodeEvent,
      handle: async (event) => {
        handled.push(event.id);
      },
    });
    await consumer.start();
    const js = jetstream(nc);
    await js.publish(`events.order.${uuidv7()}.OrderCompleted`, 'this is not json');
    await js.publish(`events.order.${uuidv7()}.OrderCompleted`, JSON.stringify({ type: 'OrderCompleted', schemaVersion: 7 }));
    const good = orderCompleted('consumer-test');
    await publish(good);
    await waitFor('the good event to be handled', async () => handled.includes(good.id), 20_000);
    const dead = await waitFor('two dead letters', async () => {
      const found = await deadLetters('poison');
      return found.length >= 2 ? found : undefined;
    });
    await consumer.stop();
    expect(dead.map((message) => message.header.get('Jetsaga-Dlq-Reason'))).toEqual(['poison', 'poison']);
    expect(dead[0]?.string()).toBe('this is not json');
    expect(dead[0]?.header.get('Jetsaga-Dlq-Subject')).toMatch(/^events\.order\..+\.OrderCompleted$/);
    expect(dead[0]?.header.get('Jetsaga-Dlq-Consumer')).toBe('poison');
  });

  it('dead-letters a permanent error at once, and a transient one after its last attempt, with the error', async () => {
    const permanent = orderCompleted('consumer-test');
    const transient = orderCompleted('consumer-test');
    const seen: Array<[string, number]> = [];
    const consumer = new EventConsumer({
      createMissing: true,
      nc,
      log,
      spec: {
        stream: EVENTS_STREAM,
        durable: 'failing',
        filterSubjects: [eventTypeFilter('OrderCompleted')],
        backoffMs: [20, 20],
        maxAttempts: 3,
      },
      decode: decodeEvent,
      handle: async (event, delivery) => {
        if (event.id !== permanent.id && event.id !== transient.id) return;
        seen.push([event.id, delivery.deliveryCount]);
        if (event.id === permanent.id) throw new PermanentError('customer account closed');
        throw new Error('still failing');
      },
    });
    await consumer.start();
    await publish(permanent);
    await publish(transient);
    // This consumer also meets the earlier test's poison messages; only the two failing events matter here.
    const dead = await waitFor('two dead letters', async () => {
      const found = (await deadLetters('failing')).filter((message) => message.header.get('Jetsaga-Dlq-Reason') !== 'poison');
      return found.length >= 2 ? found : undefined;
    });
    await consumer.stop();
    const byId = new Map(dead.map((message) => [(message.json() as { id: string }).id, message]));
    expect(byId.get(permanent.id)?.header.get('Jetsaga-Dlq-Reason')).toBe('permanent');
    expect(byId.get(permanent.id)?.header.get('Jetsaga-Dlq-Attempts')).toBe('1');
    expect(byId.get(permanent.id)?.header.get('Jetsaga-Dlq-Error')).toBe('customer account closed');
    expect(byId.get(transient.id)?.header.get('Jetsaga-Dlq-Reason')).toBe('exhausted');
    expect(byId.get(transient.id)?.header.get('Jetsaga-Dlq-Attempts')).toBe('3');
    expect(seen.filter(([id]) => id === transient.id).map(([, attempt]) => attempt)).toEqual([1, 2, 3]);
  });
});
