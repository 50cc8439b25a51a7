import { EVENT_TYPES } from '@jetsaga/events';
import { z } from 'zod';

const TOKEN = /^[A-Za-z0-9_-]+$/;
const MAX_TYPES = 16;

/** The stream's query: what to follow and from where. */
export const streamQuery = z.strictObject({
  type: z
    .string()
    .optional()
    .transform((list, ctx) => {
      if (list === undefined) return undefined;
      const types = [
        ...new Set(
          list
            .split(',')
            .map((type) => type.trim())
            .filter(Boolean),
        ),
      ];
      const unknown = types.filter((type) => !(EVENT_TYPES as readonly string[]).includes(type));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `not an event type of the catalogue: ${unknown.join(', ')}` });
      if (types.length > MAX_TYPES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_TYPES} types` });
      return types.length > 0 ? types : undefined;
    })
    .meta({ description: 'event types, comma-separated (e.g. `OrderPlaced,OrderCompleted`)' }),
  aggregateType: z.string().regex(TOKEN, 'letters, digits, - and _ only').optional(),
  aggregateId: z.string().regex(TOKEN, 'letters, digits, - and _ only').optional(),
  correlationId: z
    .guid()
    .transform((id) => id.toLowerCase())
    .optional()
    .meta({ description: "one saga's events (required for a customer: one of their own orders)" }),
  after: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'resume after this EVENTS stream sequence (the `Last-Event-ID` header wins)' }),
  from: z
    .enum(['start', 'now'])
    .default('now')
    .meta({ description: 'with no position to resume from: the whole history (`start`) or new events only (`now`)' }),
});

export type StreamQuery = z.output<typeof streamQuery>;

/**
 * The subject filters of a query on EVENTS (`events.<aggregateType>.<aggregateId>.<eventType>`): each given part
 * fixes its token, each missing one is `*`; one filter per type. Nothing given: every event.
 */
export function subjectsOf(query: Pick<StreamQuery, 'type' | 'aggregateType' | 'aggregateId'>): string[] {
  const aggregateType = query.aggregateType ?? '*';
  const aggregateId = query.aggregateId ?? '*';
  if (!query.type && aggregateType === '*' && aggregateId === '*') return ['events.>'];
  return (query.type ?? ['*']).map((type) => `events.${aggregateType}.${aggregateId}.${type}`);
}

const decoder = new TextDecoder();

/**
 * The correlation id is in the envelope, not the subject, so it is matched here, on the payload; undefined: every
 * message NATS delivers matches.
 */
export function payloadFilter(query: Pick<StreamQuery, 'correlationId'>): ((payload: Uint8Array) => boolean) | undefined {
  const wanted = query.correlationId;
  if (!wanted) return undefined;
  return (payload) => {
    try {
      const envelope = JSON.parse(decoder.decode(payload)) as { correlationId?: unknown };
      return typeof envelope.correlationId === 'string' && envelope.correlationId.toLowerCase() === wanted;
    } catch {
      return false;
    }
  };
}

/** What the in-process match of a live event needs (tail.ts: TailEvent). */
export type MatchableEvent = {
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  correlationId(): string | undefined;
};

/**
 * The query as a match over one event of the shared live tail: the same events its subject filters and payload
 * filter select on a consumer of its own (`subjectsOf`, `payloadFilter`), decided in the gateway instead.
 */
export function eventMatcher(query: Pick<StreamQuery, 'type' | 'aggregateType' | 'aggregateId' | 'correlationId'>) {
  const types = query.type ? new Set(query.type) : undefined;
  const { aggregateType, aggregateId, correlationId } = query;
  return function matches(event: MatchableEvent): boolean {
    if (types && !types.has(event.eventType)) return false;
    if (aggregateType !== undefined && event.aggregateType !== aggregateType) return false;
    if (aggregateId !== undefined && event.aggregateId !== aggregateId) return false;
    return correlationId === undefined || event.correlationId() === correlationId;
  };
}
