/**
 * A trace in one shape whichever backend answered: Jaeger's query API (`GET /api/traces/<id>`, Jaeger's own JSON:
 * microseconds, tags, logs, processes) or OTLP JSON (Tempo's `GET /api/traces/<id>`, base64 ids, and Jaeger v2's
 * `/api/v3/traces/<id>`, hex ids). Pure: the unit test feeds both answers of one real trace and expects the same spans.
 */
export type SpanKind = 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
export type AttributeValue = string | number | boolean | Array<string | number | boolean>;
export type Attributes = Record<string, AttributeValue>;

export type TraceSpan = {
  spanId: string;
  parentSpanId: string | null;
  traceId: string;
  service: string;
  name: string;
  kind: SpanKind;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message?: string };
  attributes: Attributes;
  events: Array<{ name: string; timeUnixNano: string; attributes: Attributes }>;
};

export type TraceBackend = 'jaeger' | 'tempo';

const KINDS: readonly SpanKind[] = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS = ['UNSET', 'OK', 'ERROR'] as const;

function durationMs(start: bigint, end: bigint): number {
  return Math.round(Number(end - start) / 1e4) / 100;
}

/** By start time, then by span id (a stable order for spans that start in the same instant). */
export function byStart(a: TraceSpan, b: TraceSpan): number {
  const [x, y] = [BigInt(a.startTimeUnixNano), BigInt(b.startTimeUnixNano)];
  return x < y ? -1 : x > y ? 1 : a.spanId.localeCompare(b.spanId);
}

// --- Jaeger's JSON -------------------------------------------------------------------------------------------------

type JaegerTag = { key: string; type?: string; value: unknown };
type JaegerSpan = {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags?: JaegerTag[];
  logs?: Array<{ timestamp: number; fields?: JaegerTag[] }>;
  processID: string;
};
export type JaegerResponse = {
  data: Array<{ traceID: string; spans: JaegerSpan[]; processes: Record<string, { serviceName: string; tags?: JaegerTag[] }> }> | null;
};

/** Tags Jaeger makes of what OTLP keeps in fields of their own (kind, status, scope): read into those, not attributes. */
const JAEGER_SYNTHETIC = new Set([
  'span.kind',
  'otel.status_code',
  'otel.status_description',
  'otel.scope.name',
  'otel.scope.version',
  'error',
]);

function jaegerValue(tag: JaegerTag): AttributeValue {
  if (tag.type === 'int64' || tag.type === 'float64') return Number(tag.value);
  if (tag.type === 'bool') return tag.value === true || tag.value === 'true';
  return typeof tag.value === 'number' || typeof tag.value === 'boolean' ? tag.value : String(tag.value);
}

function jaegerAttributes(tags: readonly JaegerTag[] | undefined, skip: ReadonlySet<string> = new Set()): Attributes {
  const attributes: Attributes = {};
  for (const tag of tags ?? []) if (!skip.has(tag.key)) attributes[tag.key] = jaegerValue(tag);
  return attributes;
}

const micros = (value: number) => BigInt(Math.round(value)) * 1000n;

export function fromJaeger(response: JaegerResponse): TraceSpan[] {
  const spans: TraceSpan[] = [];
  for (const trace of response.data ?? []) {
    for (const span of trace.spans) {
      const tags = new Map((span.tags ?? []).map((tag) => [tag.key, tag]));
      const kind = String(tags.get('span.kind')?.value ?? 'internal').toUpperCase() as SpanKind;
      const statusCode = String(
        tags.get('otel.status_code')?.value ?? (tags.get('error')?.value === true ? 'ERROR' : 'UNSET'),
      ).toUpperCase();
      const statusMessage = tags.get('otel.status_description')?.value;
      const parent = span.references?.find((reference) => reference.refType === 'CHILD_OF');
      const start = micros(span.startTime);
      const end = start + micros(span.duration);
      spans.push({
        spanId: span.spanID.padStart(16, '0'),
        parentSpanId: parent ? parent.spanID.padStart(16, '0') : null,
        traceId: span.traceID.padStart(32, '0'),
        service: trace.processes[span.processID]?.serviceName ?? 'unknown',
        name: span.operationName,
        kind: KINDS.includes(kind) ? kind : 'INTERNAL',
        startTimeUnixNano: String(start),
        endTimeUnixNano: String(end),
        durationMs: durationMs(start, end),
        status: {
          code: (STATUS as readonly string[]).includes(statusCode) ? (statusCode as TraceSpan['status']['code']) : 'UNSET',
          ...(statusMessage ? { message: String(statusMessage) } : {}),
        },
        attributes: jaegerAttributes(span.tags, JAEGER_SYNTHETIC),
        events: (span.logs ?? []).map((log) => {
          const name = log.fields?.find((field) => field.key === 'event');
          return {
            name: name ? String(name.value) : 'log',
            timeUnixNano: String(micros(log.timestamp)),
            attributes: jaegerAttributes(log.fields, new Set(['event'])),
          };
        }),
      });
    }
  }
  return spans.sort(byStart);
}

// --- OTLP JSON (Tempo, Jaeger's /api/v3) ---------------------------------------------------------------------------

type OtlpValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: string;
};
type OtlpKeyValue = { key: string; value?: OtlpValue };
type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number | string;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpKeyValue[];
  events?: Array<{ timeUnixNano: string | number; name: string; attributes?: OtlpKeyValue[] }>;
  status?: { code?: number | string; message?: string };
};
type OtlpResourceSpans = {
  resource?: { attributes?: OtlpKeyValue[] };
  scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
  instrumentationLibrarySpans?: Array<{ spans?: OtlpSpan[] }>;
};
export type OtlpResponse = {
  batches?: OtlpResourceSpans[];
  resourceSpans?: OtlpResourceSpans[];
  result?: { resourceSpans?: OtlpResourceSpans[] };
  trace?: { resourceSpans?: OtlpResourceSpans[] };
};

/** An id as hex: OTLP JSON says hex, Tempo's protobuf-JSON answers base64. */
export function hexId(id: string | undefined, length: 16 | 32): string | null {
  if (!id) return null;
  if (new RegExp(`^[0-9a-f]{${length}}$`, 'i').test(id)) return id.toLowerCase();
  const hex = Buffer.from(id, 'base64').toString('hex');
  return hex.length === length && !/^0+$/.test(hex) ? hex : null;
}

function otlpValue(value: OtlpValue | undefined): AttributeValue {
  if (!value) return '';
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map((item) => otlpValue(item) as string | number | boolean);
  if (value.kvlistValue)
    return JSON.stringify(Object.fromEntries((value.kvlistValue.values ?? []).map((kv) => [kv.key, otlpValue(kv.value)])));
  return value.bytesValue ?? '';
}

function otlpAttributes(list: readonly OtlpKeyValue[] | undefined): Attributes {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, otlpValue(kv.value)]));
}

function otlpKind(kind: number | string | undefined): SpanKind {
  if (typeof kind === 'number') return KINDS[kind - 1] ?? 'INTERNAL';
  const name = String(kind ?? '').replace(/^SPAN_KIND_/, '');
  return (KINDS as readonly string[]).includes(name) ? (name as SpanKind) : 'INTERNAL';
}

function otlpStatus(status: OtlpSpan['status']): TraceSpan['status'] {
  const raw = status?.code;
  const code =
    typeof raw === 'number'
      ? (STATUS[raw] ?? 'UNSET')
      : (String(raw ?? 'UNSET').replace(/^STATUS_CODE_/, '') as TraceSpan['status']['code']);
  return { code: (STATUS as readonly string[]).includes(code) ? code : 'UNSET', ...(status?.message ? { message: status.message } : {}) };
}

export function fromOtlp(response: OtlpResponse): TraceSpan[] {
  const resources = response.batches ?? response.resourceSpans ?? response.result?.resourceSpans ?? response.trace?.resourceSpans ?? [];
  const spans: TraceSpan[] = [];
  for (const resource of resources) {
    const service = String(otlpAttributes(resource.resource?.attributes)['service.name'] ?? 'unknown');
    for (const scope of [...(resource.scopeSpans ?? []), ...(resource.instrumentationLibrarySpans ?? [])]) {
      for (const span of scope.spans ?? []) {
        const start = BigInt(span.startTimeUnixNano);
        const end = BigInt(span.endTimeUnixNano);
        spans.push({
          spanId: hexId(span.spanId, 16) ?? span.spanId,
          parentSpanId: hexId(span.parentSpanId, 16),
          traceId: hexId(span.traceId, 32) ?? span.traceId,
          service,
          name: span.name,
          kind: otlpKind(span.kind),
          startTimeUnixNano: String(start),
          endTimeUnixNano: String(end),
          durationMs: durationMs(start, end),
          status: otlpStatus(span.status),
          attributes: otlpAttributes(span.attributes),
          events: (span.events ?? []).map((event) => ({
            name: event.name,
            timeUnixNano: String(BigInt(event.timeUnixNano)),
            attributes: otlpAttributes(event.attributes),
          })),
        });
      }
    }
  }
  return spans.sort(byStart);
}

/** The spans of a backend's answer for one trace. */
export function normalizeTrace(backend: TraceBackend, response: unknown): TraceSpan[] {
  return backend === 'jaeger' ? fromJaeger(response as JaegerResponse) : fromOtlp(response as OtlpResponse);
}

/** The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), if it is one. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/i.exec(traceparent?.trim() ?? '');
  const id = match?.[1]?.toLowerCase();
  return id && !/^0+$/.test(id) ? id : undefined;
}
