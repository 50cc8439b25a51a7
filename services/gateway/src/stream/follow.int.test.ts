import { adminCredentials, credentialsOf, type NatsServer, startTestNats, waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM, uuidv7 } from '@jetsaga/events';
import { connectNats, createLogger, ensureTopology, type NatsConnection } from '@jetsaga/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventMatcher, payloadFilter, subjectsOf } from './filters.js';
import { type EndReason, followEvents, type FollowOptions } from './follow.js';
import { LiveTail, type TailBatch } from './tail.js';

/**
 * Event streams against a real nats-server, connected as the gateway's own NATS user: the bodies are read (or not)
 * directly, with no socket in between, so "a slow client" is exactly a reader that waits.
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
const tails: LiveTail[] = [];
const readers: Reader[] = [];

async function publish(aggregate: string, count: number, extra: Record<string, unknown> = {}): Promise<number[]> {
  const js = jetstream(admin);
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    const body = JSON.stringify({ id: uuidv7(), type: 'OrderPlaced', i, ...extra, padding: 'x'.repeat(PAYLOAD_BYTES) });
    seqs.push((await js.publish(`events.order.${aggregate}.OrderPlaced`, body)).seq);
  }
  return seqs;
}

beforeAll(async () => {
  nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
  admin = await connectNats(nats.url, 'follow-test', adminCredentials(inject('natsAuth')));
  await ensureTopology(admin);
  gateway = await connectNats(nats.url, 'gateway', credentialsOf(inject('natsAuth'), 'gateway'));
  aggregateId = uuidv7();
  sequences = await publish(aggregateId, COUNT);
});

afterEach(async () => {
  for (const reader of readers.splice(0)) await reader.cancel();
  tails.splice(0);
});

afterAll(async () => {
  await gateway?.close();
  await admin?.close();
  await nats?.stop();
});

let tailCount = 0;
function newTail() {
  const tail = new LiveTail({ namePrefix: `sse_tail_test_${++tailCount}`, log });
  tails.push(tail);
  return tail;
}

type Filter = { aggregateType?: string; aggregateId?: string; correlationId?: string };

async function follow(options: Partial<FollowOptions> & { tail?: LiveTail; filter?: Filter } = {}) {
  const ends: EndReason[] = [];
  let queued = 0;
  let largestChunk = 0;
  const filter = { type: undefined, ...(options.filter ?? { aggregateType: 'order', aggregateId }) };
  const followed = await followEvents({
    nc: gateway,
    tail: options.tail ?? newTail(),
    subjects: subjectsOf(filter),
    ...(filter.correlationId ? { payloadMatches: payloadFilter(filter)! } : {}),
    matches: eventMatcher(filter),
    fromStart: true,
    bufferBytes: BUFFER_BYTES,
    stallMs: 10_000,
    pingMs: 60_000,
    batch: BATCH,
    namePrefix: `sse_test_${Math.random().toString(36).slice(2, 8)}`,
    log,
    onEnd: (reason) => ends.push(reason),
    onEvent: (count) => {
      queued += count;
      largestChunk = Math.max(largestChunk, count);
    },
    ...options,
  });
  return { ...followed, state: { ends, queued: () => queued, largestChunk: () => largestChunk } };
}

/** Reads a body as it comes: the chunks, the `id:` of every event frame, and the overflow frame's data if one came. */
class Reader {
  readonly chunks: Uint8Array[] = [];
  readonly ids: number[] = [];
  overflow: { lastEventId: string; reason: string } | undefined;
  done = false;
  private text = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private readonly finished: Promise<void>;

  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader();
    readers.push(this);
    this.finished = this.read();
  }

  private async read() {
    for (;;) {
      const { done, value } = await this.reader.read().catch(() => ({ done: true, value: undefined }));
      if (done || !value) break;
      this.chunks.push(value);
      this.text += this.decoder.decode(value, { stream: true });
      let end: number;
      while ((end = this.text.indexOf('\n\n')) >= 0) {
        const block = this.text.slice(0, end);
        this.text = this.text.slice(end + 2);
        if (block.includes('event: OrderPlaced')) this.ids.push(Number(/^id: (\d+)$/m.exec(block)![1]));
        if (block.includes('event: overflow')) this.overflow = JSON.parse(/^data: (.*)$/m.exec(block)![1]!);
      }
    }
    this.done = true;
  }

  /** Waits until the ids seen reach `last` (or the stream ended). */
  until(last: number, timeoutMs = 30_000) {
    return waitFor(`events up to ${last}`, async () => this.done || (this.ids.at(-1) ?? 0) >= last, timeoutMs, 10);
  }

  async cancel() {
    await this.reader.cancel().catch(() => undefined);
    await this.finished;
  }
}

/** Reads the whole body until `count` events came (or it ended), then cancels it. */
async function readAll(body: ReadableStream<Uint8Array>, count = Infinity) {
  const reader = new Reader(body);
  await waitFor(`${count} events`, async () => reader.done || reader.ids.length >= count, 30_000, 10);
  await reader.cancel();
  return reader;
}

async function consumersNamed(prefix: string): Promise<string[]> {
  const jsm = await jetstreamManager(admin);
  const names: string[] = [];
  for await (const info of jsm.consumers.list(EVENTS_STREAM)) if (info.name.startsWith(prefix)) names.push(info.name);
  return names;
}

async function consumerExists(name: string): Promise<boolean> {
  const jsm = await jetstreamManager(admin);
  return jsm.consumers.info(EVENTS_STREAM, name).then(
    () => true,
    () => false,
  );
}

const after = (list: number[], seq: number) => list.filter((s) => s > seq);

describe('one event stream against NATS', () => {
  it('stops pulling history while the client takes nothing: what waits in the gateway stays within the buffer', async () => {
    const stream = await follow();
    const frameBytes = PAYLOAD_BYTES + 100;
    await waitFor('the buffer to fill', async () => stream.state.queued() * frameBytes >= BUFFER_BYTES - frameBytes, 10_000, 10);
    const held = stream.state.queued();
    const catchUp = stream.catchUpConsumer()!;
    // The server agrees: the consumer delivered at most what was queued plus one batch, the rest is still pending.
    const info = await (await jetstreamManager(admin)).consumers.info(EVENTS_STREAM, catchUp);
    expect(info.delivered.stream_seq - sequences[0]! + 1).toBeLessThanOrEqual(held + BATCH);
    expect(info.num_pending).toBeGreaterThanOrEqual(COUNT - held - BATCH);
    expect(held * frameBytes).toBeLessThanOrEqual(BUFFER_BYTES + frameBytes);
    expect(stream.live()).toBe(false);
    // A client that reads again gets everything, in order, without an overflow, then follows the live tail.
    const reader = new Reader(stream.body);
    await reader.until(sequences.at(-1)!);
    expect(reader.ids).toEqual(sequences);
    expect(reader.overflow).toBeUndefined();
    await waitFor('the hand-over to the live tail', async () => stream.live(), 10_000, 10);
    await waitFor('the catch-up consumer deleted', async () => !(await consumerExists(catchUp)), 10_000);
    await reader.cancel();
    expect(stream.state.ends).toEqual(['client-closed']);
  });

  it('ends a client that stays stalled with an overflow frame naming the last id sent; resuming from it loses nothing', async () => {
    const stream = await follow({ stallMs: 300 });
    const catchUp = stream.catchUpConsumer()!;
    await waitFor('the overflow', async () => stream.state.ends.includes('overflow'), 10_000, 10);
    expect(await consumerExists(catchUp)).toBe(false);
    const first = await readAll(stream.body);
    expect(first.overflow).toMatchObject({ lastEventId: String(first.ids.at(-1)) });
    expect(first.ids.length).toBeLessThan(COUNT);
    const rest = await follow({ after: Number(first.overflow!.lastEventId), fromStart: false });
    const second = await readAll(rest.body, COUNT - first.ids.length);
    expect([...first.ids, ...second.ids]).toEqual(sequences);
  });

  it('deletes its consumers when the client cancels, and the live tail with its last client', async () => {
    const tail = newTail();
    const stream = await follow({ tail });
    expect(await consumerExists(stream.catchUpConsumer()!)).toBe(true);
    expect(await consumersNamed(`sse_tail_test_${tailCount}_`)).toHaveLength(1);
    await stream.body.cancel();
    await waitFor('the consumers deleted', async () => (await consumersNamed(`sse_test_`)).length === 0, 10_000);
    await waitFor('the tail deleted', async () => (await consumersNamed(`sse_tail_test_${tailCount}_`)).length === 0, 10_000);
    expect(tail.size).toBe(0);
    expect(stream.state.ends).toEqual(['client-closed']);
  });

  it("runs as the gateway's NATS user, which may read EVENTS but publish no event", async () => {
    await expect(jetstream(gateway).publish(`events.order.${aggregateId}.OrderPlaced`, '{}')).rejects.toThrow();
    const info = await (await jetstreamManager(admin)).streams.info(EVENTS_STREAM);
    expect(info.state.last_seq).toBe(sequences.at(-1));
  });
});

describe('many event streams, one live tail', () => {
  it('serves many live clients from one consumer on EVENTS, each frame serialised once, each filter matched in the gateway', async () => {
    const tail = newTail();
    const tailPrefix = `sse_tail_test_${tailCount}_`;
    const aggregate = uuidv7();
    const other = uuidv7();
    const correlationId = uuidv7();
    const everything: Filter = {};
    const live = { fromStart: false, tail };
    const all = await Promise.all(Array.from({ length: 20 }, () => follow({ ...live, filter: everything })));
    const byAggregate = await Promise.all(
      Array.from({ length: 3 }, () => follow({ ...live, filter: { aggregateType: 'order', aggregateId: other } })),
    );
    const byCorrelation = await follow({ ...live, filter: { correlationId } });
    const streams = [...all, ...byAggregate, byCorrelation];
    expect(tail.size).toBe(streams.length);
    expect(streams.every((stream) => stream.live() && stream.catchUpConsumer() === undefined)).toBe(true);
    // One consumer on the server for all of them, none of their own.
    expect(await consumersNamed(tailPrefix)).toHaveLength(1);
    expect(await consumersNamed('sse_test_')).toHaveLength(0);

    const [readersAll, readersAggregate, readerCorrelation] = [
      all.map((s) => new Reader(s.body)),
      byAggregate.map((s) => new Reader(s.body)),
      new Reader(byCorrelation.body),
    ];
    const mine = await publish(aggregate, 20);
    const theirs = await publish(other, 5, { correlationId });
    for (const reader of readersAll) await reader.until(theirs.at(-1)!);
    for (const reader of readersAggregate) await reader.until(theirs.at(-1)!);
    await readerCorrelation.until(theirs.at(-1)!);
    for (const reader of readersAll) expect(reader.ids).toEqual([...mine, ...theirs]);
    for (const reader of readersAggregate) expect(reader.ids).toEqual(theirs);
    expect(readerCorrelation.ids).toEqual(theirs);
    // The very same bytes went to every client that takes everything: one chunk per flush, not one per client.
    const eventChunks = (reader: Reader) => reader.chunks.filter((chunk) => new TextDecoder().decode(chunk).includes('event: OrderPlaced'));
    const first = eventChunks(readersAll[0]!);
    expect(first.length).toBeGreaterThan(0);
    for (const reader of readersAll) {
      const chunks = eventChunks(reader);
      expect(chunks.length).toBe(first.length);
      expect(chunks.every((chunk, i) => chunk === first[i])).toBe(true);
    }
    expect(await consumersNamed(tailPrefix)).toHaveLength(1);

    // The last client gone, the tail goes; the next client starts it again.
    for (const reader of [...readersAll, ...readersAggregate, readerCorrelation]) await reader.cancel();
    await waitFor('the tail deleted', async () => (await consumersNamed(tailPrefix)).length === 0, 10_000);
    expect(tail.size).toBe(0);
    const again = await follow({ ...live, filter: everything });
    expect(await consumersNamed(tailPrefix)).toHaveLength(1);
    const reader = new Reader(again.body);
    const next = await publish(aggregate, 3);
    await reader.until(next.at(-1)!);
    expect(reader.ids).toEqual(next);
  });

  it('hands a client over from its catch-up to the live tail while events keep coming: each event exactly once, in order', async () => {
    const tail = newTail();
    const aggregate = uuidv7();
    const filter = { aggregateType: 'order', aggregateId: aggregate };
    // A live client keeps the tail running, so the catch-ups overlap a tail that reads the same events.
    const keeper = new Reader((await follow({ tail, filter, fromStart: false })).body);
    const history = await publish(aggregate, 60);
    let published = [...history];
    let publishing = true;
    const publisher = (async () => {
      for (let round = 0; round < 30; round++) published = [...published, ...(await publish(aggregate, 5))];
      publishing = false;
    })();
    // Clients resume from old positions at staggered moments during the publishing, some slow to read.
    const resumed: Array<{ from: number; reader: Reader; stream: Awaited<ReturnType<typeof follow>> }> = [];
    for (const [i, from] of [history[0]!, history[20]!, history[40]!, history[59]!, history[10]!].entries()) {
      await waitFor('more events published', async () => !publishing || published.length >= history.length + 20 * i, 30_000, 5);
      const stream = await follow({ tail, filter, after: from, fromStart: false });
      resumed.push({ from, stream, reader: new Reader(stream.body) });
    }
    await publisher;
    const last = published.at(-1)!;
    await keeper.until(last);
    for (const { from, reader, stream } of resumed) {
      await reader.until(last);
      expect(reader.ids).toEqual(after(published, from));
      await waitFor('the hand-over', async () => stream.live(), 10_000, 10);
      expect(stream.state.ends).toEqual([]);
    }
    expect(keeper.ids).toEqual(published);
    // Handed over, they share the tail: no catch-up consumer is left.
    await waitFor('no catch-up consumer', async () => (await consumersNamed('sse_test_')).length === 0, 10_000);
    const more = await publish(aggregate, 3);
    for (const { reader } of resumed) await reader.until(more.at(-1)!);
    for (const { from, reader } of resumed) expect(reader.ids).toEqual(after([...published, ...more], from));
  });

  it('hands the events it read within its flush window to its subscribers together, in stream order', async () => {
    const tail = new LiveTail({ namePrefix: `sse_tail_test_${++tailCount}`, log, flushMs: 300 });
    const aggregate = uuidv7();
    const bursts: number[][] = [];
    const subscriber = {
      deliver(batch: TailBatch) {
        const mine = batch.events.filter((event) => event.aggregateId === aggregate).map((event) => event.seq);
        if (mine.length > 0) bursts.push(mine);
      },
      fail() {},
    };
    await tail.join(gateway, subscriber);
    const js = jetstream(admin);
    const acks = await Promise.all(Array.from({ length: 10 }, () => js.publish(`events.order.${aggregate}.OrderPlaced`, '{}')));
    const seqs = acks.map((ack) => ack.seq).sort((a, b) => a - b);
    await waitFor('every event delivered', async () => bursts.flat().length === seqs.length, 10_000, 10);
    expect(bursts.flat()).toEqual(seqs);
    // Published at once, they leave in one flush (two if the window closed between them), not ten.
    expect(bursts.length).toBeLessThanOrEqual(2);
    tail.leave(subscriber);
  });

  it('lets a live client that stops reading fall behind without holding the tail, then catch up exactly once', async () => {
    const tail = newTail();
    const aggregate = uuidv7();
    const filter = { aggregateType: 'order', aggregateId: aggregate };
    const keeper = new Reader((await follow({ tail, filter, fromStart: false })).body);
    const slow = await follow({ tail, filter, fromStart: false });
    // Nobody reads `slow`: past its buffer it leaves the tail, the other client is not held back.
    const seqs = await publish(aggregate, 40);
    await keeper.until(seqs.at(-1)!);
    expect(keeper.ids).toEqual(seqs);
    expect(slow.live()).toBe(false);
    expect(tail.size).toBe(1);
    // What it holds: its buffer, and one flush of the tail past it.
    expect(slow.state.queued() * PAYLOAD_BYTES).toBeLessThanOrEqual(BUFFER_BYTES + slow.state.largestChunk() * (PAYLOAD_BYTES + 100));
    const reader = new Reader(slow.body);
    await reader.until(seqs.at(-1)!);
    expect(reader.ids).toEqual(seqs);
    await waitFor('back on the tail', async () => slow.live(), 10_000, 10);
    const more = await publish(aggregate, 3);
    await reader.until(more.at(-1)!);
    expect(reader.ids).toEqual([...seqs, ...more]);
  });
});
