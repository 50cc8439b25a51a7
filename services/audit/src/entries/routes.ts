import { pathId, type Routes, routes } from '@jetsaga/platform';
import { z } from 'zod';
import { COMPLIANCE_TAGS } from '../compliance/rules.js';
import { listEntries } from './store.js';

/** Text without control characters (Postgres refuses NUL, and no event field holds the others). */
export const plainText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, 'control characters are not allowed');

export const instant = () => z.iso.datetime({ offset: true }).meta({ description: 'ISO 8601 date-time with offset' });

export const entrySchema = z.object({
  position: z.number().int().meta({ description: 'place in the chain, from 1 without gaps' }),
  eventId: z.uuid(),
  streamSequence: z.number().int().meta({ description: 'EVENTS stream sequence it arrived with' }),
  type: z.string(),
  aggregateType: z.string(),
  aggregateId: z.string(),
  correlationId: z.string(),
  actor: z.string(),
  occurredAt: z.string(),
  recordedAt: z.string(),
  tags: z.array(z.enum(COMPLIANCE_TAGS)),
  hash: z.string().meta({ description: 'sha256(previous hash || canonical entry), hex' }),
  envelope: z.record(z.string(), z.unknown()).meta({ description: 'the event exactly as published' }),
});

const page = z.object({
  entries: z.array(entrySchema),
  next: z.string().nullable().meta({ description: 'cursor of the following page (null on the last)' }),
});

const paging = {
  after: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
};

const READERS = ['agent', 'admin'] as const;

export function entryRoutes({ db }: { db: Parameters<typeof listEntries>[0] }): Routes {
  return routes()
    .add({
      method: 'get',
      path: '/api/audit/trail/:aggregateType/:aggregateId',
      summary: "An aggregate's audit trail: its events in chain order, with their compliance tags",
      tags: ['audit'],
      roles: READERS,
      params: z.object({
        aggregateType: z.string().regex(/^[a-z][a-z0-9-]{0,49}$/),
        aggregateId: z.union([pathId(), z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/)]),
      }),
      query: z.strictObject(paging),
      responses: { 200: { description: "A page of the aggregate's entries (empty when it has none)", schema: page } },
      handler: async (c, { params, query }) => c.json(await listEntries(db, { ...params, ...query })),
    })
    .add({
      method: 'get',
      path: '/api/audit/search',
      summary: 'Entries by actor, event type, compliance tag, correlation id, time range and full text',
      description:
        '`q` is a Postgres full-text query (websearch syntax: words, "phrases", -excluded, or) over the event type and the strings and numbers of its data. `from` and `to` bound `occurredAt` as [from, to).',
      tags: ['audit'],
      roles: READERS,
      query: z
        .strictObject({
          actor: plainText(200).optional(),
          type: z
            .string()
            .regex(/^[A-Za-z][A-Za-z0-9]{0,99}$/)
            .optional(),
          tag: z.enum(COMPLIANCE_TAGS).optional(),
          correlationId: z.uuid().optional(),
          from: instant().optional(),
          to: instant().optional(),
          q: plainText(200).optional(),
          ...paging,
        })
        .refine((query) => !query.from || !query.to || Date.parse(query.from) <= Date.parse(query.to), {
          path: ['to'],
          message: 'to is before from',
        }),
      responses: { 200: { description: 'A page of matching entries in chain order', schema: page } },
      handler: async (c, { query }) => c.json(await listEntries(db, query)),
    });
}
