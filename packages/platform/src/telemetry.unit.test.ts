import { context, propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeFacts, messageTypeOf, subjectTemplate, traceContextOf, withTraceHeaders } from './telemetry.js';
import { tracingConfigured } from './telemetry-sdk-config.js';

describe('subjects as span names and metric labels', () => {
  it('hides the aggregate id of event and deadline subjects, and leaves others as they are', () => {
    expect(subjectTemplate('events.order.0190a1b2-0000-7000-8000-000000000001.OrderPlaced')).toBe('events.order.*.OrderPlaced');
    expect(subjectTemplate('deadlines.order.0190a1b2-0000-7000-8000-000000000001.fired')).toBe('deadlines.order.*.fired');
    expect(subjectTemplate('dlq.inventory')).toBe('dlq.inventory');
  });

  it('names the message type: the event type, or the deadline step', () => {
    expect(messageTypeOf('events.reservation.x.StockReserved')).toBe('StockReserved');
    expect(messageTypeOf('deadlines.order.x.schedule')).toBe('deadline.schedule');
    expect(messageTypeOf('dlq.payment')).toBe('dlq');
  });

  it('reads correlation, causation and type from an envelope, and nothing from anything else', () => {
    expect(envelopeFacts({ correlationId: 'c', causationId: 'k', type: 'OrderPlaced', data: {} })).toEqual({
      correlationId: 'c',
      causationId: 'k',
      type: 'OrderPlaced',
    });
    expect(envelopeFacts('not an event')).toEqual({});
    expect(envelopeFacts({ correlationId: 42 })).toEqual({});
  });
});

describe('trace context in message headers', () => {
  beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
  afterAll(() => propagation.disable());

  const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED };

  it('writes traceparent beside the headers already there, and reads it back case-insensitively', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, parent);
    const headers = withTraceHeaders({ 'Nats-Schedule': '@at 2030-01-01T00:00:00Z' }, ctx);
    expect(headers).toEqual({ 'Nats-Schedule': '@at 2030-01-01T00:00:00Z', traceparent: `00-${parent.traceId}-${parent.spanId}-01` });
    const read = trace.getSpanContext(traceContextOf({ TraceParent: headers.traceparent as string }));
    expect(read).toMatchObject({ traceId: parent.traceId, spanId: parent.spanId, isRemote: true });
  });

  it('adds nothing outside a trace', () => {
    expect(context.with(ROOT_CONTEXT, () => withTraceHeaders({ a: 'b' }))).toEqual({ a: 'b' });
  });
});

describe('whether tracing starts', () => {
  it('starts with an OTLP endpoint or an explicit exporter, and not otherwise', () => {
    expect(tracingConfigured({})).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
    expect(tracingConfigured({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });
});
