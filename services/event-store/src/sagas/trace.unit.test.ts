import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromJaeger, fromOtlp, hexId, normalizeTrace, type OtlpResponse, traceIdOf, type TraceSpan } from './trace.js';

/**
 * One real trace of a completed saga, as Jaeger v2 answered it twice (tests/src/trace.e2e.test.ts wrote both): its own
 * JSON at /api/traces/<id>, and OTLP JSON at /api/v3/traces/<id>, which is the shape Tempo answers.
 */
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as unknown;
const jaeger = fixture('jaeger-api-traces.json');
const otlp = fixture('jaeger-api-v3-otlp.json') as OtlpResponse;

/** Jaeger's JSON keeps microseconds: OTLP's nanoseconds compared at that precision. */
const toMicros = (spans: TraceSpan[]) =>
  spans.map((span) => ({
    ...span,
    startTimeUnixNano: String((BigInt(span.startTimeUnixNano) / 1000n) * 1000n),
    endTimeUnixNano: String((BigInt(span.endTimeUnixNano) / 1000n) * 1000n),
    durationMs: undefined,
    events: span.events.map((event) => ({ ...event, timeUnixNano: String((BigInt(event.timeUnixNano) / 1000n) * 1000n) })),
  }));

/** Tempo's /api/traces/<id>: the same resource spans under `batches`, ids base64 (protobuf JSON), enums by name. */
function asTempo(response: OtlpResponse): OtlpResponse {
  const b64 = (hex: string | undefined) => (hex ? Buffer.from(hex, 'hex').toString('base64') : hex);
  const KINDS = [
    'SPAN_KIND_UNSPECIFIED',
    'SPAN_KIND_INTERNAL',
    'SPAN_KIND_SERVER',
    'SPAN_KIND_CLIENT',
    'SPAN_KIND_PRODUCER',
    'SPAN_KIND_CONSUMER',
  ];
  const CODES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];
  return {
    batches: (response.result?.resourceSpans ?? []).map((resource) => ({
      ...resource,
      scopeSpans: (resource.scopeSpans ?? []).map((scope) => ({
        ...scope,
        spans: (scope.spans ?? []).map((span) => ({
          ...span,
          traceId: b64(span.traceId)!,
          spanId: b64(span.spanId)!,
          ...(span.parentSpanId ? { parentSpanId: b64(span.parentSpanId) } : {}),
          kind: typeof span.kind === 'number' ? KINDS[span.kind] : span.kind,
          ...(span.status
            ? { status: { ...span.status, code: typeof span.status.code === 'number' ? CODES[span.status.code] : span.status.code } }
            : {}),
        })),
      })),
    })),
  };
}

describe('trace normalization', () => {
  it('reads the same spans from the Jaeger answer and the OTLP answer of one trace', () => {
    const fromJaegerSpans = fromJaeger(jaeger as Parameters<typeof fromJaeger>[0]);
    const fromOtlpSpans = fromOtlp(otlp);
    expect(fromJaegerSpans.length).toBeGreaterThan(20);
    expect(toMicros(fromJaegerSpans)).toEqual(toMicros(fromOtlpSpans));
  });

  it("reads Tempo's encoding (base64 ids, enum names, `batches`) to the same spans", () => {
    expect(normalizeTrace('tempo', asTempo(otlp))).toEqual(fromOtlp(otlp));
  });

  it("gives the same spans for Tempo's answer and Jaeger's answer of one trace, whichever backend is configured", () => {
    const fromTempo = normalizeTrace('tempo', asTempo(otlp));
    const fromJaegerApi = normalizeTrace('jaeger', jaeger);
    expect(fromTempo.length).toBe(fromJaegerApi.length);
    expect(toMicros(fromTempo)).toEqual(toMicros(fromJaegerApi));
  });

  it('gives every span of the saga its service, kind, parent and the messaging attributes', () => {
    const spans = fromOtlp(otlp);
    const services = new Set(spans.map((span) => span.service));
    for (const service of ['gateway', 'order', 'inventory', 'payment', 'sales', 'event-store']) expect(services).toContain(service);
    const traceIds = new Set(spans.map((span) => span.traceId));
    expect(traceIds.size).toBe(1);
    const ids = new Set(spans.map((span) => span.spanId));
    expect(spans.filter((span) => span.parentSpanId === null).length).toBeGreaterThanOrEqual(1);
    for (const span of spans) if (span.parentSpanId) expect(ids.has(span.parentSpanId), span.name).toBe(true);
    const placed = spans.find((span) => span.kind === 'CONSUMER' && span.name === 'process events.order.*.OrderPlaced');
    expect(placed?.attributes['messaging.system']).toBe('nats');
    expect(placed?.events.some((event) => event.name === 'log' && event.attributes.msg === 'message processed')).toBe(true);
    const starts = spans.map((span) => BigInt(span.startTimeUnixNano));
    expect(starts.every((start, i) => i === 0 || start >= starts[i - 1]!)).toBe(true);
  });

  it('keeps kind and status out of the attributes, and reads an error status with its message', () => {
    const [span] = fromJaeger({
      data: [
        {
          traceID: '4bf92f3577b34da6a3ce929d0e0e4736',
          processes: { p1: { serviceName: 'payment' } },
          spans: [
            {
              traceID: '4bf92f3577b34da6a3ce929d0e0e4736',
              spanID: '00f067aa0ba902b7',
              operationName: 'process events.reservation.*.StockReserved',
              startTime: 1_700_000_000_000_000,
              duration: 1500,
              processID: 'p1',
              tags: [
                { key: 'span.kind', type: 'string', value: 'consumer' },
                { key: 'otel.status_code', type: 'string', value: 'ERROR' },
                { key: 'otel.status_description', type: 'string', value: 'payment refused' },
                { key: 'error', type: 'bool', value: true },
                { key: 'messaging.message.body.size', type: 'int64', value: 412 },
              ],
            },
          ],
        },
      ],
    });
    expect(span).toMatchObject({
      kind: 'CONSUMER',
      parentSpanId: null,
      status: { code: 'ERROR', message: 'payment refused' },
      attributes: { 'messaging.message.body.size': 412 },
      durationMs: 1.5,
      startTimeUnixNano: '1700000000000000000',
    });
    expect(Object.keys(span!.attributes)).toEqual(['messaging.message.body.size']);
  });

  it('reads ids as hex whichever encoding, and trace ids from traceparent headers', () => {
    expect(hexId('4bf92f3577b34da6a3ce929d0e0e4736', 32)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(hexId(Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex').toString('base64'), 32)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(hexId('', 16)).toBeNull();
    expect(hexId('AAAAAAAAAAA=', 16)).toBeNull();
    expect(traceIdOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(traceIdOf('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeUndefined();
    expect(traceIdOf('garbage')).toBeUndefined();
    expect(traceIdOf(undefined)).toBeUndefined();
  });
});
