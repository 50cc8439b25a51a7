import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  type Link,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';

/**
 * Tracing across NATS: W3C trace context travels in message headers, and every publish and every processed message
 * is a span named and annotated per the OpenTelemetry messaging conventions. Without a started SDK (see
 * `register.ts`) every function here is a cheap no-op, so code calls them unconditionally.
 */

const TRACER = '@jetsaga/platform';

/** Messaging attributes (semantic conventions, incubating: spelled out here rather than imported from unstable exports). */
export const MESSAGING = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  destinationTemplate: 'messaging.destination.template',
  consumerGroup: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  bodySize: 'messaging.message.body.size',
  deliveryCount: 'messaging.nats.delivery_count',
  streamSequence: 'messaging.nats.stream_sequence',
  correlationId: 'jetsaga.correlation_id',
  causationId: 'jetsaga.causation_id',
  eventType: 'jetsaga.event_type',
} as const;

let stopHook: (() => Promise<void>) | undefined;

/** Called by the SDK's starter (register.ts): how to flush and stop it. */
export function onTelemetryStop(hook: () => Promise<void>): void {
  stopHook = hook;
}

/** Exports the spans still buffered and stops the SDK; a service calls it last on shutdown, before it exits. */
export async function stopTelemetry(): Promise<void> {
  const hook = stopHook;
  stopHook = undefined;
  await hook?.().catch(() => undefined);
}

export function tracer() {
  return trace.getTracer(TRACER);
}

const headerGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    if (key in carrier) return carrier[key];
    const lower = key.toLowerCase();
    for (const [name, value] of Object.entries(carrier)) if (name.toLowerCase() === lower) return value;
    return undefined;
  },
};

/** The headers plus `traceparent`/`tracestate` of the given (default: current) context; the input is not changed. */
export function withTraceHeaders(headers: Readonly<Record<string, string>> = {}, ctx: Context = context.active()): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  propagation.inject(ctx, out);
  return out;
}

/** The context a message's headers carry (the active one when they carry none). */
export function traceContextOf(headers: Readonly<Record<string, string>>): Context {
  return propagation.extract(context.active(), headers, headerGetter);
}

/** The trace id of the current span when there is one worth showing a user (it is being recorded). */
export function currentTraceId(): string | undefined {
  const span = trace.getActiveSpan();
  return span?.isRecording() ? span.spanContext().traceId : undefined;
}

/**
 * The low-cardinality form of a subject, for span names and metric labels: the aggregate id token becomes `*`
 * (`events.order.<id>.OrderPlaced` -> `events.order.*.OrderPlaced`, `deadlines.order.<id>.fired` -> `deadlines.order.*.fired`).
 */
export function subjectTemplate(subject: string): string {
  const parts = subject.split('.');
  if ((parts[0] === 'events' || parts[0] === 'deadlines') && parts.length === 4) parts[2] = '*';
  return parts.join('.');
}

/** What a message is, for metrics: the event type of `events.*.*.<Type>`, `deadline.<step>` for timers. */
export function messageTypeOf(subject: string): string {
  const parts = subject.split('.');
  if (parts[0] === 'events' && parts.length === 4) return parts[3] as string;
  if (parts[0] === 'deadlines' && parts.length === 4) return `deadline.${parts[3]}`;
  return parts[0] ?? subject;
}

/** The correlation and causation ids and the type of a JSON event envelope, when the payload is one. */
export function envelopeFacts(payload: unknown): { correlationId?: string; causationId?: string; type?: string } {
  if (typeof payload !== 'object' || payload === null) return {};
  const { correlationId, causationId, type } = payload as Record<string, unknown>;
  return {
    ...(typeof correlationId === 'string' ? { correlationId } : {}),
    ...(typeof causationId === 'string' ? { causationId } : {}),
    ...(typeof type === 'string' ? { type } : {}),
  };
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

function recordFailure(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

const LOG_FACTS = createContextKey('jetsaga.log-facts');

/** Correlation and causation ids of the message being processed, for log lines (see `createLogger`). */
export function logFacts(): Record<string, string> | undefined {
  return context.active().getValue(LOG_FACTS) as Record<string, string> | undefined;
}

export type OutgoingMessage = {
  subject: string;
  messageId: string;
  /** Headers stored with the message; their trace context (from enqueue time) parents the send span. */
  headers: Readonly<Record<string, string>>;
  payload: unknown;
  bodySize: number;
};

/**
 * A PRODUCER span `send <subject template>` around one publish. Its parent is the context stored in the message's
 * headers when it was enqueued (the request or handler that caused it), not the relay loop that happens to send it,
 * so one saga stays one trace. `publish` receives the headers to send: the stored ones with this span as parent.
 */
export function traceSend<T>(message: OutgoingMessage, publish: (headers: Record<string, string>) => Promise<T>): Promise<T> {
  const template = subjectTemplate(message.subject);
  const facts = envelopeFacts(message.payload);
  const attributes: Attributes = {
    [MESSAGING.system]: 'nats',
    [MESSAGING.operationType]: 'send',
    [MESSAGING.operationName]: 'send',
    [MESSAGING.destination]: message.subject,
    [MESSAGING.destinationTemplate]: template,
    [MESSAGING.messageId]: message.messageId,
    [MESSAGING.bodySize]: message.bodySize,
    [MESSAGING.eventType]: facts.type ?? messageTypeOf(message.subject),
    ...(facts.correlationId ? { [MESSAGING.correlationId]: facts.correlationId } : {}),
  };
  const parent = traceContextOf(message.headers);
  return tracer().startActiveSpan(`send ${template}`, { kind: SpanKind.PRODUCER, attributes }, parent, async (span) => {
    try {
      return await publish(withTraceHeaders(message.headers));
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

export type IncomingMessage = {
  subject: string;
  consumer: string;
  headers: Readonly<Record<string, string>>;
  data: Uint8Array;
  streamSequence: number;
  deliveryCount: number;
};

/** Lets the processing code say how a message was settled, so the span and metrics record it. */
export type ProcessSpan = { span: Span; eventType: string; correlationId?: string };

/**
 * A CONSUMER span `process <subject template>` around the handling of one message, child of the PRODUCER span whose
 * context the message carries. Everything the handler does (queries, events it enqueues, log lines) happens inside it.
 */
export function traceProcess<T>(message: IncomingMessage, process: (handle: ProcessSpan) => Promise<T>): Promise<T> {
  const template = subjectTemplate(message.subject);
  const facts = envelopeFacts(parseJson(message.data));
  const eventType = facts.type ?? messageTypeOf(message.subject);
  const messageId = headerGetter.get(message.headers, 'Nats-Msg-Id');
  const attributes: Attributes = {
    [MESSAGING.system]: 'nats',
    [MESSAGING.operationType]: 'process',
    [MESSAGING.operationName]: 'process',
    [MESSAGING.destination]: message.subject,
    [MESSAGING.destinationTemplate]: template,
    [MESSAGING.consumerGroup]: message.consumer,
    [MESSAGING.bodySize]: message.data.byteLength,
    [MESSAGING.deliveryCount]: message.deliveryCount,
    [MESSAGING.streamSequence]: message.streamSequence,
    [MESSAGING.eventType]: eventType,
    ...(typeof messageId === 'string' ? { [MESSAGING.messageId]: messageId } : {}),
    ...(facts.correlationId ? { [MESSAGING.correlationId]: facts.correlationId } : {}),
    ...(facts.causationId ? { [MESSAGING.causationId]: facts.causationId } : {}),
  };
  const parent = traceContextOf(message.headers).setValue(LOG_FACTS, {
    ...(facts.correlationId ? { correlation_id: facts.correlationId } : {}),
    ...(facts.causationId ? { causation_id: facts.causationId } : {}),
  });
  return tracer().startActiveSpan(`process ${template}`, { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => {
    try {
      return await process({ span, eventType, correlationId: facts.correlationId });
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks a processed message as failed (a retry or a dead letter) without throwing. */
export function markFailed(span: Span, outcome: string, error?: unknown): void {
  span.setAttribute('jetsaga.outcome', outcome);
  if (error !== undefined) recordFailure(span, error);
  else span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
}

/**
 * A span for work done on many messages at once (a batch written to the event store, say). A batch belongs to no
 * single trace, so it starts its own and links to each message's context instead of choosing one as parent.
 */
export function startBatchSpan(
  name: string,
  messageHeaders: ReadonlyArray<Readonly<Record<string, string>>>,
  attributes: Attributes = {},
): Span {
  const links: Link[] = [];
  for (const headers of messageHeaders) {
    const spanContext = trace.getSpanContext(traceContextOf(headers));
    if (spanContext && trace.isSpanContextValid(spanContext)) links.push({ context: spanContext });
  }
  return tracer().startSpan(name, {
    kind: SpanKind.CONSUMER,
    links,
    attributes: { [MESSAGING.system]: 'nats', ...attributes },
    root: true,
  });
}

/** The trace context headers of a received message (`traceparent`, `tracestate`), kept for work done on it later. */
export function traceHeadersOf(headers: Iterable<[string, string[]]> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of headers ?? []) {
    const name = key.toLowerCase();
    if ((name === 'traceparent' || name === 'tracestate') && values[0]) out[name] = values[0];
  }
  return out;
}

export type BatchedMessage = {
  subject: string;
  headers: Readonly<Record<string, string>>;
  bodySize: number;
  messageId?: string;
  eventType?: string;
  correlationId?: string;
  streamSequence?: number;
};

/**
 * Traces work done on many messages at once (the event store's mirror writes a batch in one transaction). The batch
 * is a span of its own, linked to every message; once the work succeeded, each message that carried a trace also gets
 * a CONSUMER `process <subject template>` span in that trace, spanning the batch and linked to it, so a saga's trace
 * shows where its events were stored.
 */
export async function traceBatch<T>(
  name: string,
  consumer: string,
  messages: readonly BatchedMessage[],
  work: () => Promise<T>,
): Promise<T> {
  const batch = startBatchSpan(
    name,
    messages.map((message) => message.headers),
    { [MESSAGING.consumerGroup]: consumer, 'messaging.batch.message_count': messages.length },
  );
  const started = Date.now();
  // Asked before the span ends: an ended span no longer records.
  const recording = batch.isRecording();
  let result: T;
  try {
    result = await context.with(trace.setSpan(context.active(), batch), work);
  } catch (error) {
    recordFailure(batch, error);
    batch.end();
    throw error;
  }
  batch.end();
  // Without a started SDK the spans are no-ops: nothing to add.
  if (!recording) return result;
  for (const message of messages) {
    const parent = traceContextOf(message.headers);
    if (!trace.getSpanContext(parent)) continue;
    const template = subjectTemplate(message.subject);
    tracer()
      .startSpan(
        `process ${template}`,
        {
          kind: SpanKind.CONSUMER,
          startTime: started,
          links: [{ context: batch.spanContext() }],
          attributes: {
            [MESSAGING.system]: 'nats',
            [MESSAGING.operationType]: 'process',
            [MESSAGING.operationName]: 'process',
            [MESSAGING.destination]: message.subject,
            [MESSAGING.destinationTemplate]: template,
            [MESSAGING.consumerGroup]: consumer,
            [MESSAGING.bodySize]: message.bodySize,
            [MESSAGING.eventType]: message.eventType ?? messageTypeOf(message.subject),
            ...(message.messageId ? { [MESSAGING.messageId]: message.messageId } : {}),
            ...(message.correlationId ? { [MESSAGING.correlationId]: message.correlationId } : {}),
            ...(message.streamSequence !== undefined ? { [MESSAGING.streamSequence]: message.streamSequence } : {}),
          },
        },
        parent,
      )
      .end();
  }
  return result;
}
