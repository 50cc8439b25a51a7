import { catalog, DLQ_STREAM, envelopeSchema, EVENTS_STREAM } from '@jetsaga/events';
import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** The envelope with this event's type, aggregate type and schema version fixed, and its data schema inside. */
function payloadOf(definition: (typeof catalog)[number]): JsonSchema {
  const envelope = jsonSchema(envelopeSchema) as { properties: Record<string, JsonSchema>; required: string[] };
  return {
    ...envelope,
    properties: {
      ...envelope.properties,
      type: { type: 'string', const: definition.type },
      aggregateType: { type: 'string', const: definition.aggregateType },
      schemaVersion: { type: 'integer', const: definition.schemaVersion },
      data: jsonSchema(definition.data),
    },
  };
}

const TRACE_HEADERS = {
  type: 'object',
  properties: {
    'Nats-Msg-Id': { type: 'string', description: 'the event id: JetStream drops a second publication of it' },
    traceparent: { type: 'string', description: 'W3C trace context of the span that published it' },
    tracestate: { type: 'string' },
  },
};

const DEAD_LETTER_HEADERS = {
  type: 'object',
  properties: Object.fromEntries(
    ['Subject', 'Stream', 'Sequence', 'Consumer', 'Attempts', 'Reason', 'Error', 'Failed-At'].map((name) => [
      `Jetsaga-Dlq-${name}`,
      { type: 'string' },
    ]),
  ),
};

/**
 * AsyncAPI 3.0 of the events, from the catalogue of packages/events: one channel per event type, its address the
 * subject grammar of subjects.ts (`events.<aggregateType>.<aggregateId>.<eventType>`), one message per type whose
 * payload is the envelope with that type's data schema. Operations say that the system sends each of them.
 */
export function asyncApiDocument(): JsonSchema {
  const channels: Record<string, JsonSchema> = {};
  const operations: Record<string, JsonSchema> = {};
  const messages: Record<string, JsonSchema> = {};
  for (const definition of catalog) {
    const { type, aggregateType } = definition;
    const owner = (definition as { owner?: unknown }).owner;
    messages[type] = {
      name: type,
      title: type,
      summary: definition.description,
      contentType: 'application/json',
      headers: TRACE_HEADERS,
      payload: payloadOf(definition),
      'x-aggregate-type': aggregateType,
      'x-schema-version': definition.schemaVersion,
      ...(typeof owner === 'string' ? { 'x-owner': owner } : {}),
    };
    channels[type] = {
      address: `events.${aggregateType}.{aggregateId}.${type}`,
      title: type,
      description: `${definition.description} Stream ${EVENTS_STREAM}; consumers filter \`events.*.*.${type}\`.`,
      parameters: { aggregateId: { description: `the ${aggregateType} id (a UUID)` } },
      messages: { [type]: { $ref: `#/components/messages/${type}` } },
    };
    operations[`send${type}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${type}` },
      summary: `Publishes ${type}`,
      messages: [{ $ref: `#/channels/${type}/messages/${type}` }],
    };
  }
  messages.DeadLetter = {
    name: 'DeadLetter',
    title: 'DeadLetter',
    summary: 'A message a consumer gave up on: the original payload, its original headers, and why it failed.',
    contentType: 'application/json',
    headers: DEAD_LETTER_HEADERS,
    payload: {},
  };
  channels.deadLetters = {
    address: 'dlq.{consumer}',
    title: 'Dead letters',
    description: `Stream ${DLQ_STREAM}; \`dlq.redrive.<consumer>\` puts one back for that consumer only.`,
    parameters: { consumer: { description: 'the durable consumer that failed the message' } },
    messages: { DeadLetter: { $ref: '#/components/messages/DeadLetter' } },
  };
  operations.sendDeadLetter = {
    action: 'send',
    channel: { $ref: '#/channels/deadLetters' },
    summary: 'Dead-letters a message after its retries, or at once when it is poison',
    messages: [{ $ref: '#/channels/deadLetters/messages/DeadLetter' }],
  };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'jetsaga events',
      version: '0.1.0',
      description: 'Every domain event of the EVENTS stream, as the catalogue (packages/events) declares it.',
    },
    defaultContentType: 'application/json',
    servers: {
      nats: {
        host: 'localhost:4222',
        protocol: 'nats',
        description: 'NATS JetStream; every client authenticates (one user per service, publishing only its own event types).',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}
