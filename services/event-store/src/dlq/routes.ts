import { DLQ_STREAM, dlqRedriveSubject } from '@jetsaga/events';
import { ConflictError, NotFoundError, readDeadLetter, type Routes, routes, type ServiceDeps } from '@jetsaga/platform';
import { DeliverPolicy, jetstream, jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { z } from 'zod';
import { decodeCursor, encodeCursor } from '../events/routes.js';
import { nextCursor } from '../schemas.js';

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
/** Kept a string here: an id that is no sequence names nothing, which `load` answers with a 404. */
const letterId = z.object({ id: z.string().min(1).max(20).meta({ description: 'the DLQ stream sequence' }) });
const OPERATIONS = ['agent', 'admin'] as const;

const deadLetterSchema = z.object({
  id: z.string(),
  consumer: z.string(),
  subject: z.string(),
  type: z.string().nullable(),
  reason: z.string().nullable(),
  attempts: z.number().int().nullable(),
  error: z.string().nullable(),
  failedAt: z.string().nullable(),
  stream: z.string().nullable(),
  sequence: z.number().int().nullable(),
  headers: z.record(z.string(), z.string()),
  payload: z.unknown(),
  deadLetteredAt: z.string(),
});

export function dlqRoutes({ nc }: Pick<ServiceDeps, 'nc'>): Routes {
  async function load(id: string): Promise<{ message: StoredMsg; letter: DeadLetter }> {
    const seq = idParam.safeParse(id);
    if (!seq.success) throw new NotFoundError(`dead letter ${id} does not exist`);
    const jsm = await jetstreamManager(nc);
    const message = await jsm.streams.getMessage(DLQ_STREAM, { seq: seq.data }).catch(() => null);
    const letter = message && view(message.seq, message.subject, storedHeaders(message), message.data, message.time);
    if (!message || !letter) throw new NotFoundError(`dead letter ${id} does not exist`);
    return { message, letter };
  }

  return routes()
    .add({
      method: 'get',
      path: '/api/dlq',
      summary: 'Dead letters, oldest first, by consumer or event type, paged',
      tags: ['dlq'],
      roles: OPERATIONS,
      query: listQuery,
      responses: {
        200: {
          description: 'A page of dead letters',
          schema: z.object({ messages: z.array(deadLetterSchema), next: nextCursor, scannedTo: z.number().int() }),
        },
      },
      handler: async (c, { query }) => {
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
      },
    })
    .add({
      method: 'get',
      path: '/api/dlq/:id',
      summary: 'One dead letter: the original message, its headers, and why it failed',
      tags: ['dlq'],
      roles: OPERATIONS,
      params: letterId,
      responses: { 200: { description: 'The dead letter', schema: deadLetterSchema } },
      problems: { 404: 'no such dead letter' },
      handler: async (c, { params }) => c.json((await load(params.id)).letter),
    })
    .add({
      method: 'post',
      path: '/api/dlq/:id/redrive',
      summary: 'Put a dead letter back, for the consumer that failed it only, and remove it from the DLQ',
      tags: ['dlq'],
      roles: ['admin'],
      params: letterId,
      responses: {
        202: {
          description: 'Redriven',
          schema: z.object({ id: z.string(), consumer: z.string(), redrivenTo: z.string() }),
        },
      },
      problems: { 404: 'no such dead letter', 409: 'an outbox message JetStream refused cannot be redriven' },
      handler: async (c, { params }) => {
        const { message, letter } = await load(params.id);
        if (letter.consumer.startsWith('outbox-')) {
          throw new ConflictError('JetStream refused this outbox message; it cannot be redriven, only inspected and deleted');
        }
        const hdrs = natsHeaders();
        for (const [key, value] of Object.entries(storedHeaders(message))) if (!key.startsWith('Nats-')) hdrs.set(key, value);
        // Published once per dead letter (the id de-duplicates a retry), then removed: a second redrive finds nothing.
        await jetstream(nc).publish(dlqRedriveSubject(letter.consumer), message.data, { headers: hdrs, msgID: `redrive:${message.seq}` });
        await (await jetstreamManager(nc)).streams.deleteMessage(DLQ_STREAM, message.seq, false);
        return c.json({ id: letter.id, consumer: letter.consumer, redrivenTo: dlqRedriveSubject(letter.consumer) }, 202);
      },
    })
    .add({
      method: 'delete',
      path: '/api/dlq/:id',
      summary: 'Delete a dead letter for good',
      tags: ['dlq'],
      roles: ['admin'],
      params: letterId,
      responses: { 204: { description: 'Deleted' } },
      problems: { 404: 'no such dead letter' },
      handler: async (c, { params }) => {
        const { message } = await load(params.id);
        await (await jetstreamManager(nc)).streams.deleteMessage(DLQ_STREAM, message.seq, false);
        return c.body(null, 204);
      },
    });
}
