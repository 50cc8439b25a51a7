import { adminCredentials, credentialsOf, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM, uuidv7 } from '@jetsaga/events';
import { connectNats, createLogger, ensureTopology, type NatsConnection } from '@jetsaga/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type EndReason, followEvents, type FollowOptions } from './follow.js';

/**
 * The back-pressure of one event stream against a real nats-server, connected as the gateway's own NATS user: the
 * body is read (or not) directly, with no socket in between, so "a slow client" is exactly a reader that waits.
 */
let nats: NatsServer;
let admin: NatsConnection;
let gateway: NatsConnection;
const log = createLogger('follow-test', 'silent');
const COUNT = 200;
const PAYLOAD_BYTES = 1024;
const BUFFER_BYTES = 8 * 1024;
const BATCH = 8;
let aggregateId: string;
let sequences: number[];

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  admin = await connectNats(nats.url, 'follow-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(admin);
  gateway = await connectNats(nats.url, 'gateway', credentialsOf(inject('natsAuth'), 'gateway'));
  aggregateId = uuidv7();
  const js = jetstream(admin);
  sequences = [];
  for (let i = 0; i < COUNT; i++) {
    const body = JSON.stringify({ id: uuidv7(), type: 'OrderPlaced', i, padding: 'x'.repeat(PAYLOAD_BYTES) });
    sequences.push((await js.publish(`events.order.${aggregateId}.OrderPlaced`, body)).seq);
  }
});

afterAll(async () => {
  await gateway?.close();
  await admin?.close();
  await nats?.stop();
});

type Follow = { ends: EndReason[]; queued: () => number };

async function follow(options: Partial<FollowOptions> = {}) {
  const ends: EndReason[] = [];
  let queued = 0;
  const followed = await followEvents({
    nc: gateway,
    subjects: [`events.order.${aggregateId}.*`],
    fromStart: true,
    bufferBytes: BUFFER_BYTES,
    stallMs: 10_000,
    pingMs: 60_000,
    batch: BATCH,
    namePrefix: `sse_test_${Math.random().toString(36).slice(2, 8)}`,
    log,
    onEnd: (reason) => ends.push(reason),
    onEvent: () => (queued += 1),
    ...options,
  });
  return { ...followed, state: { ends, queued: () => queued } satisfies Follow };
}

/** Reads the whole body: the `id:` of every event frame, and the overflow frame's data if one came. */
async function readAll(body: ReadableStream<Uint8Array>, stopAfter = Infinity) {
  const decoder = new TextDecoder();
  let text = '';
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if ((text.match(/^event: OrderPlaced$/gm)?.length ?? 0) >= stopAfter) {
      await reader.cancel();
      break;
    }
  }
  const frames = text.split('\n\n').filter((block) => block.includes('data: '));
  const ids = frames.filter((block) => block.includes('event: OrderPlaced')).map((block) => Number(/^id: (\d+)$/m.exec(block)![1]));
  const overflow = frames.find((block) => block.includes('event: overflow'));
  return { ids, overflow: overflow ? JSON.parse(/^data: (.*)$/m.exec(overflow)![1]!) : undefined };
}

async function consumerExists(name: string): Promise<boolean> {
  const jsm = await jetstreamManager(admin);
  return jsm.consumers.info(EVENTS_STREAM, name).then(
    () => true,
    () => false,
  );
}

describe('one event stream against NATS', () => {
  it('stops pulling while the client takes nothing: what waits in the gateway stays within the buffer', async () => {
    const stream = await follow();
    const frameBytes = PAYLOAD_BYTES + 100;
    await waitFor('the buffer to fill', async () => stream.state.queued() * frameBytes >= BUFFER_BYTES - frameBytes, 10_000, 10);
    const held = stream.state.queued();
    // The server agrees: the consumer delivered at most what was queued plus one batch, the rest is still pending.
    const info = await (await jetstreamManager(admin)).consumers.info(EVENTS_STREAM, stream.consumerName);
    expect(info.delivered.stream_seq - sequences[0]! + 1).toBeLessThanOrEqual(held + BATCH);
    expect(info.num_pending).toBeGreaterThanOrEqual(COUNT - held - BATCH);
    expect(held * frameBytes).toBeLessThanOrEqual(BUFFER_BYTES + frameBytes);
    // A client that reads again gets everything, in order, without an overflow.
    const { ids, overflow } = await readAll(stream.body, COUNT);
    expect(ids).toEqual(sequences);
    expect(overflow).toBeUndefined();
    await waitFor('the consumer deleted', async () => !(await consumerExists(stream.consumerName)), 10_000);
    expect(stream.state.ends).toEqual(['client-closed']);
  });

  it('ends a client that stays stalled with an overflow frame naming the last id sent; resuming from it loses nothing', async () => {
    const stream = await follow({ stallMs: 300 });
    await waitFor('the overflow', async () => stream.state.ends.includes('overflow'), 10_000, 10);
    expect(await consumerExists(stream.consumerName)).toBe(false);
    const first = await readAll(stream.body);
    expect(first.overflow).toMatchObject({ lastEventId: String(first.ids[first.ids.length - 1]) });
    expect(first.ids.length).toBeLessThan(COUNT);
    const rest = await follow({ after: Number(first.overflow.lastEventId), fromStart: false });
    const second = await readAll(rest.body, COUNT - first.ids.length);
    expect([...first.ids, ...second.ids]).toEqual(sequences);
  });

  it('deletes its consumer when the client cancels', async () => {
    const stream = await follow();
    expect(await consumerExists(stream.consumerName)).toBe(true);
    await stream.body.cancel();
    await waitFor('the consumer deleted', async () => !(await consumerExists(stream.consumerName)), 10_000);
    expect(stream.state.ends).toEqual(['client-closed']);
  });

  it("runs as the gateway's NATS user, which may read EVENTS but publish no event", async () => {
    await expect(jetstream(gateway).publish(`events.order.${aggregateId}.OrderPlaced`, '{}')).rejects.toThrow();
    const info = await (await jetstreamManager(admin)).streams.info(EVENTS_STREAM);
    expect(info.state.last_seq).toBe(sequences[sequences.length - 1]);
  });
});
