import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { EVENTS_STREAM } from '@jetsaga/events';
import type { NatsConnection } from '@jetsaga/platform';
import { DeliverPolicy, jetstream, jetstreamManager, type PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';

/** One message of the stream as the backup keeps it: its position, subject, headers (Nats-Msg-Id among them), data. */
export type StoredMessage = { seq: number; subject: string; headers: Array<[string, string]>; data: string };

export type EventsBackup = { stream: string; firstSeq: number; lastSeq: number; messages: number; bytes: number };

/**
 * Reads `stream` from its first message to the last one it holds when the backup starts, with an ordered consumer (no
 * durable state on the server, redelivered in order after a reconnect), into a gzip file of JSON lines. A stream with
 * gaps (deleted messages) is refused: a restore could not give the messages their positions back, and the event
 * store's mirror verifies by position. EVENTS denies deletes and purges, so it has none.
 */
export async function backupEvents(nc: NatsConnection, file: string, stream = EVENTS_STREAM): Promise<EventsBackup> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const lastSeq = state.last_seq;
  const firstSeq = state.messages === 0 ? 0 : state.first_seq;
  if (state.messages > 0 && state.messages !== lastSeq - firstSeq + 1)
    throw new Error(`${stream} has gaps (${state.messages} messages in ${firstSeq}..${lastSeq}): positions could not be restored`);
  async function* lines(): AsyncGenerator<string> {
    if (state.messages === 0) return;
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 1000 });
    let expected = firstSeq;
    try {
      for await (const msg of messages) {
        const seq = msg.info.streamSequence;
        if (seq !== expected) throw new Error(`${stream}: read position ${seq} where ${expected} was expected`);
        const headers: Array<[string, string]> = [];
        for (const [key, values] of msg.headers ?? []) for (const value of values) headers.push([key, value]);
        const stored: StoredMessage = { seq, subject: msg.subject, headers, data: Buffer.from(msg.data).toString('base64') };
        yield `${JSON.stringify(stored)}\n`;
        expected++;
        if (seq >= lastSeq) break;
      }
    } finally {
      messages.stop();
    }
  }
  let bytes = 0;
  const counted = Readable.from(lines()).map((chunk: string) => {
    bytes += chunk.length;
    return chunk;
  });
  await pipeline(counted, createGzip(), createWriteStream(file, { flags: 'wx' }));
  return { stream, firstSeq, lastSeq, messages: state.messages, bytes };
}

/** Headers the server sets or checks on publish: not part of what a message is. */
const SERVER_HEADERS = /^Nats-(Expected|Msg-Id$)/i;

export type EventsRestore = { stream: string; messages: number; lastSeq: number; ms: number };

/**
 * Publishes a backup into its stream, which must be empty and never written (last sequence 0: a recreated stream), in
 * order, each message with its subject, data, headers and Nats-Msg-Id, and the expected last sequence of the one
 * before it: every message gets its old position or the restore stops at the first that would not.
 */
export async function restoreEvents(
  nc: NatsConnection,
  file: string,
  options: { stream?: string; window?: number; log?: (message: string) => void } = {},
): Promise<EventsRestore> {
  const stream = options.stream ?? EVENTS_STREAM;
  const started = Date.now();
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  if (state.messages !== 0 || state.last_seq !== 0)
    throw new Error(`${stream} is not an empty new stream (${state.messages} messages, last sequence ${state.last_seq}): nothing restored`);
  const js = jetstream(nc);
  const inFlight = new Set<Promise<PubAck>>();
  const window = options.window ?? 256;
  let count = 0;
  let lastSeq = 0;
  let failure: unknown;
  const input = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of input) {
    if (!line) continue;
    if (failure) break;
    const message = JSON.parse(line) as StoredMessage;
    if (message.seq !== lastSeq + 1 && !(lastSeq === 0 && message.seq === 1))
      throw new Error(`${file}: position ${message.seq} follows ${lastSeq}; only a stream starting at 1 without gaps can be restored`);
    const hdrs = natsHeaders();
    let msgID: string | undefined;
    for (const [key, value] of message.headers) {
      if (/^Nats-Msg-Id$/i.test(key)) msgID = value;
      else if (!SERVER_HEADERS.test(key)) hdrs.append(key, value);
    }
    const ack = js.publish(message.subject, Buffer.from(message.data, 'base64'), {
      headers: hdrs,
      ...(msgID ? { msgID } : {}),
      expect: { lastSequence: message.seq - 1, streamName: stream },
    });
    const expected = message.seq;
    const tracked = ack.then((pubAck) => {
      if (pubAck.duplicate || pubAck.seq !== expected) throw new Error(`${stream}: position ${expected} stored as ${pubAck.seq}`);
      return pubAck;
    });
    tracked.catch((error: unknown) => (failure ??= error)).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    lastSeq = message.seq;
    count++;
    if (inFlight.size >= window) await Promise.race(inFlight).catch(() => undefined);
    if (count % 5000 === 0) options.log?.(`${stream}: ${count} messages restored`);
  }
  await Promise.allSettled([...inFlight]);
  if (failure) throw failure;
  return { stream, messages: count, lastSeq, ms: Date.now() - started };
}
