import {
  aggregateFilter,
  createEvent,
  EVENTS_STREAM,
  eventDefinition,
  eventSubject,
  type EventType,
  InvalidEventError,
  isUuid,
} from '@jetsaga/events';
import {
  actorOf,
  ConflictError,
  type FieldError,
  ForbiddenError,
  NotFoundError,
  type Routes,
  routes,
  type ServiceDeps,
  ValidationError,
} from '@jetsaga/platform';
import { DeliverPolicy, JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { selectEvents } from '../events/stored.js';
import { storedEventSchema } from '../schemas.js';
import { AGGREGATE_OWNERS, OPEN_AGGREGATE_TYPES } from '../owners.js';

const appendBody = z.strictObject({
  expectedVersion: z.number().int().min(0),
  events: z
    .array(z.strictObject({ type: z.string().min(1), data: z.unknown() }))
    .min(1)
    .max(100),
});

/** JetStream's answer when Nats-Expected-Last-Subject-Sequence does not hold. */
const WRONG_LAST_SEQUENCE = 10071;

type AggregateHead = { version: number; lastSequence: number };

/**
 * The aggregate's current version and last stream sequence, from one read of JetStream itself (the mirror may lag).
 * Both come from the same scan of the aggregate's subjects, so they agree: a version computed from one read and a
 * sequence from another could let two racing appends both pass.
 */
async function head(deps: Pick<ServiceDeps, 'nc'>, aggregateType: string, aggregateId: string): Promise<AggregateHead> {
  const filter = aggregateFilter(aggregateType, aggregateId);
  const jsm = await jetstreamManager(deps.nc);
  const last = await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: filter }).catch(() => null);
  if (!last) return { version: 0, lastSequence: 0 };
  const consumer = await jetstream(deps.nc).consumers.get(EVENTS_STREAM, { filter_subjects: [filter], deliver_policy: DeliverPolicy.All });
  let version = 0;
  let lastSequence = 0;
  for (;;) {
    const msg = await consumer.next({ expires: 2000 });
    if (!msg) break;
    version += 1;
    lastSequence = msg.info.streamSequence;
    if (msg.info.pending === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return { version, lastSequence };
}

function checkAggregate(aggregateType: string, aggregateId: string): void {
  if (AGGREGATE_OWNERS[aggregateType] && !OPEN_AGGREGATE_TYPES.has(aggregateType)) {
    throw new ForbiddenError(`${aggregateType} events are written by the ${AGGREGATE_OWNERS[aggregateType]} service only`);
  }
  if (!OPEN_AGGREGATE_TYPES.has(aggregateType)) throw new NotFoundError(`no aggregate type ${aggregateType}`);
  if (!isUuid(aggregateId)) throw new ValidationError('aggregate ids are UUIDs', [{ field: 'aggregateId', reason: 'not a UUID' }]);
}

const aggregateParams = z.object({ aggregateType: z.string().min(1).max(100), aggregateId: z.string().min(1).max(200) });

export function streamRoutes(deps: ServiceDeps): Routes {
  const { db, nc, newId, now } = deps;
  return routes()
    .add({
      method: 'get',
      path: '/api/streams/:aggregateType/:aggregateId',
      summary: "One aggregate's events, with their versions",
      tags: ['events'],
      roles: ['agent', 'admin'],
      params: aggregateParams,
      responses: {
        200: {
          description: 'The stream',
          schema: z.object({
            aggregateType: z.string(),
            aggregateId: z.string(),
            version: z.number().int(),
            events: z.array(storedEventSchema.extend({ version: z.number().int() })),
          }),
        },
      },
      problems: { 404: 'no events for this aggregate' },
      handler: async (c, { params }) => {
        const { aggregateType, aggregateId } = params;
        const events = await selectEvents(db, 'aggregate_type = $1 AND aggregate_id = $2', [aggregateType, aggregateId]);
        if (events.length === 0) throw new NotFoundError(`no events for ${aggregateType} ${aggregateId}`);
        return c.json({
          aggregateType,
          aggregateId,
          version: events.length,
          events: events.map((event, index) => ({ ...event, version: index + 1 })),
        });
      },
    })
    .add({
      method: 'post',
      path: '/api/streams/:aggregateType/:aggregateId/events',
      summary: 'Append events to an aggregate at an expected version (optimistic concurrency)',
      description:
        "Only aggregates no service owns take appends; the events' `actor` is the caller (`admin:<sub>`). Several events are one atomic batch.",
      tags: ['events'],
      roles: ['admin'],
      params: aggregateParams,
      body: appendBody,
      responses: {
        201: {
          description: 'Stored: the new version and the stream positions',
          schema: z.object({ version: z.number().int(), positions: z.array(z.number().int()) }),
        },
      },
      problems: { 404: 'no such aggregate type', 409: 'the aggregate is not at the expected version' },
      handler: async (c, { params, body, principal }) => {
        const { aggregateType, aggregateId } = params;
        checkAggregate(aggregateType, aggregateId);
        const errors: FieldError[] = [];
        const events = body.events.flatMap((draft, index) => {
          const definition = eventDefinition(draft.type);
          if (!definition || definition.aggregateType !== aggregateType) {
            errors.push({ field: `events.${index}.type`, reason: `not an event of ${aggregateType}` });
            return [];
          }
          const correlation = (draft.data as { correlationId?: unknown } | null)?.correlationId;
          try {
            return [
              createEvent(draft.type as EventType, aggregateId.toLowerCase(), draft.data as never, {
                id: newId(),
                occurredAt: now().toISOString(),
                correlationId: typeof correlation === 'string' && isUuid(correlation) ? correlation : newId(),
                causationId: c.get('requestId'),
                actor: actorOf(principal),
              }),
            ];
          } catch (error) {
            if (!(error instanceof InvalidEventError)) throw error;
            for (const issue of error.issues)
              errors.push({ field: `events.${index}.data${issue.path ? `.${issue.path}` : ''}`, reason: issue.message });
            return [];
          }
        });
        if (errors.length > 0) throw new ValidationError('the events are invalid', errors);

        const current = await head(deps, aggregateType, aggregateId);
        const stale = () =>
          new ConflictError(`expected version ${body.expectedVersion}, but ${aggregateType} ${aggregateId} is at a newer version`);
        if (current.version !== body.expectedVersion) {
          throw new ConflictError(
            `expected version ${body.expectedVersion}, but ${aggregateType} ${aggregateId} is at version ${current.version}`,
          );
        }
        // The server checks that nothing was appended to this aggregate since the sequence we read: of two appends racing
        // from the same version, exactly one is stored.
        const expect = {
          lastSubjectSequence: current.lastSequence,
          lastSubjectSequenceSubject: aggregateFilter(aggregateType, aggregateId),
        };
        const js = jetstream(nc);
        const subjectOf = (event: (typeof events)[number]) => eventSubject(aggregateType, event.aggregateId, event.type);
        let positions: number[];
        try {
          if (events.length === 1) {
            const [event] = events as [(typeof events)[number]];
            const ack = await js.publish(subjectOf(event), JSON.stringify(event), { msgID: event.id, expect });
            positions = [ack.seq];
          } else {
            // Several events are one atomic batch: all are stored, or none.
            const [first, ...rest] = events as [(typeof events)[number], ...typeof events];
            const batch = await js.startBatch(subjectOf(first), JSON.stringify(first), { expect });
            const last = rest.pop() as (typeof events)[number];
            for (const event of rest) batch.add(subjectOf(event), JSON.stringify(event));
            const ack = await batch.commit(subjectOf(last), JSON.stringify(last));
            positions = Array.from({ length: ack.count }, (_, index) => ack.seq - ack.count + 1 + index);
          }
        } catch (error) {
          if (error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE) throw stale();
          // A rejected batch reports the batch, not the expectation: look again before blaming the caller.
          if ((await head(deps, aggregateType, aggregateId)).lastSequence !== current.lastSequence) throw stale();
          throw error;
        }
        return c.json({ version: current.version + events.length, positions }, 201);
      },
    });
}
