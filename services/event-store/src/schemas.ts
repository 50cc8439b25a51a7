import { z } from 'zod';

/** What the event store's answers look like, for its OpenAPI document (the routes build them from rows). */
export const storedEventSchema = z.object({
  position: z.number().int().meta({ description: 'the EVENTS stream sequence' }),
  id: z.uuid(),
  type: z.string(),
  schemaVersion: z.number().int(),
  aggregateType: z.string(),
  aggregateId: z.string(),
  occurredAt: z.string(),
  correlationId: z.uuid(),
  causationId: z.string(),
  actor: z.string().meta({ description: '`<role>:<subject>` of the principal whose request caused it, or the reacting service' }),
  data: z.unknown(),
});

/** A page of a list: `next` is the opaque cursor of the next page (`after=`), null on the last. */
export const nextCursor = z.string().nullable().meta({ description: 'pass as `after` for the next page; null on the last' });

export const projectionStatusSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  state: z.string(),
  position: z.number().int(),
  lag: z.number().int(),
  startedAt: z.string(),
  liveAt: z.string().nullable(),
});

export const mirrorStatusSchema = z.object({
  position: z.number().int(),
  streamPosition: z.number().int(),
  lag: z.number().int(),
  active: z.boolean(),
});

const rangeDigest = z.object({ count: z.number().int(), hash: z.string() });
export const verificationSchema = z.object({
  fromPosition: z.number().int(),
  toPosition: z.number().int(),
  stream: rangeDigest,
  mirror: rangeDigest,
  missing: z.array(z.number().int()),
  extra: z.array(z.number().int()),
  ok: z.boolean(),
});
