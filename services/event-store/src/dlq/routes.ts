import { DLQ_STREAM, dlqRedriveSubject } from '@jetsaga/events';
import { ConflictError, NotFoundError, readDeadLetter, readQuery, type ServiceDeps } from '@jetsaga/platform';
import { DeliverPolicy, jetstream, jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { Hono } from 'hono';
import { z } from 'zod';
import { decodeCursor, encodeCursor } from '../events/routes.js';

/** A dead letter: `dlq.<consumer>`, one token after `dlq.` (redrives live under `dlq.redrive.`). */
const DEAD_LETTER = /^dlq\.([A-Za-z0-9_-]+)$/;

export type DeadLetter = {
  id: string;
  consumer: string;
  subject: string;
  type: string | null;
  reason: string | null;
  attempts: number | null;
  error: string | null;
  failedAt: string | null;
  stream: string | null;
  sequence: number | null;
  headers: Record<string, string>;
  payload: unknown;
  deadLetteredAt: string;
};

function view(seq: number, subject: string, headers: Record<string, string>, data: Uint8Array, time: Date): DeadLetter | undefined {
  const match = DEAD_LETTER.exec(subject);
  if (!match) return undefined;
  const fields = readDeadLetter(headers);
  const text = new TextDecoder().decode(data);
  let payload: unknown = text;
  try {
    payload = JSON.parse(text);
  } catch {
    // poison stays as the text it was
  }
  return {
    id: String(seq),
    consumer: fields.consumer ?? (match[1] as string),
    subject: fields.subject,
    type: fields.subject.startsWith('events.') ? (fields.subject.split('.')[3] ?? null) : null,
    reason: fields.reason,
    attempts: fields.attempts,
    error: fields.error,
    failedAt: fields.failedAt,
    stream: fields.stream,
    sequence: fields.sequence,
    headers: fields.originalHeaders,
    payload,
    deadLetteredAt: time.toISOString(),
  };
}

function storedHeaders(message: StoredMsg): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [key, values] of message.header ?? []) record[key] = values[0] ?? '';
  return record;
}

const listQuery = z.strictObject({
  consumer: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
  type: z.string().min(1).max(100).optional(),
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const idParam = z.coerce.number().int().positive();

export function dlqRoutes({ nc }: Pick<ServiceDeps, 'nc'>): Hono {
  const app = new Hono();

  async function load(id: string): Promise<{ message: StoredMsg; letter: DeadLetter }> {
    const seq = idParam.safeParse(id);
    if (!seq.success) throw new NotFoundError(`dead letter ${id} does not exist`);
    const jsm = await jetstreamManager(nc);
    const message = await jsm.streams.getMessage(DLQ_STREAM, { seq: seq.data }).catch(() => null);
    const letter = message && view(message.seq, message.subject, storedHeaders(message), message.data, message.time);
    if (!message || !letter) throw new NotFoundError(`dead letter ${id} does not exist`);
    return { message, letter };
  }

  app.get('/api/dlq', async (c) => {
    const query = readQuery(c, listQuery);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(DLQ_STREAM);
    const from = query.after ? decodeCursor(query.after) + 1 : 1;
    const letters: DeadLetter[] = [];
    let lastSeen = from - 1;
    if (info.state.messages > 0 && from <= info.state.last_seq) {
      const consumer = await jetstream(nc).consumers.get(DLQ_STREAM, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from,
        filter_subjects: query.consumer ? [`dlq.${query.consumer}`] : ['dlq.*'],
      });
      // Bounded: stops at the last sequence that existed when the request came, or when nothing more matches.
      while (letters.length <= query.limit && lastSeen < info.state.last_seq) {
        const msg = await consumer.next({ expires: 1000 });
        if (!msg) break;
        lastSeen = msg.info.streamSequence;
        const headers: Record<string, string> = {};
        for (const [key, values] of msg.headers ?? []) headers[key] = values[0] ?? '';
        const letter = view(msg.seq, msg.subject, headers, msg.data, new Date(Math.floor(msg.info.timestampNanos / 1e6)));
        if (letter && (!query.type || letter.type === query.type)) letters.push(letter);
        if (msg.info.pending === 0) break;
      }
    }
    const page = letters.slice(0, query.limit);
    const more = letters.length > query.limit;
    const last = page[page.length - 1];
    return c.json({ messages: page, next: more && last ? encodeCursor(Number(last.id)) : null, scannedTo: lastSeen });
  });

  app.get('/api/dlq/:id', async (c) => c.json((await load(c.req.param('id'))).letter));

  app.post('/api/dlq/:id/redrive', async (c) => {
    const { message, letter } = await load(c.req.param('id'));
    if (letter.consumer.startsWith('outbox-')) {
      throw new ConflictError('JetStream refused this outbox message; it cannot be redriven, only inspected and deleted');
    }
    const hdrs = natsHeaders();
    for (const [key, value] of Object.entries(storedHeaders(message))) if (!key.startsWith('Nats-')) hdrs.set(key, value);
    // Published once per dead letter (the id de-duplicates a retry), then removed: a second redrive finds nothing.
    await jetstream(nc).publish(dlqRedriveSubject(letter.consumer), message.data, { headers: hdrs, msgID: `redrive:${message.seq}` });
    await (await jetstreamManager(nc)).streams.deleteMessage(DLQ_STREAM, message.seq, false);
    return c.json({ id: letter.id, consumer: letter.consumer, redrivenTo: dlqRedriveSubject(letter.consumer) }, 202);
  });

  app.delete('/api/dlq/:id', async (c) => {
    const { message } = await load(c.req.param('id'));
    await (await jetstreamManager(nc)).streams.deleteMessage(DLQ_STREAM, message.seq, false);
    return c.body(null, 204);
  });

  return app;
}
