import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './log.js';
import { MAX_LOG_EVENTS_PER_SPAN } from './log-events.js';
import { REDACTED } from './redact.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

function inSpan(name: string, body: () => void) {
  exporter.reset();
  trace.getTracer('test').startActiveSpan(name, (span) => {
    body();
    span.end();
  });
  const [finished] = exporter.getFinishedSpans();
  return finished!;
}

describe('log lines as span events', () => {
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  const log = createLogger('log-events-test', 'info', discard);

  it('adds each line written inside a span as an event `log` with its level, message and fields', () => {
    const span = inSpan('handle', () => {
      log.info({ orderId: 'o-1', quantity: 2, paid: true }, 'stock reserved');
      log.warn('no fields');
      log.debug({ hidden: true }, 'below the level: not written, not an event');
    });
    expect(span.events.map((event) => ({ name: event.name, attributes: event.attributes }))).toEqual([
      { name: 'log', attributes: { level: 'info', msg: 'stock reserved', orderId: 'o-1', quantity: 2, paid: true } },
      { name: 'log', attributes: { level: 'warn', msg: 'no fields' } },
    ]);
  });

  it('redacts the fields as the written line is redacted: secrets by name at any depth and by shape', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';
    const span = inSpan('handle', () => {
      log.error(
        {
          authorization: `Bearer ${jwt}`,
          config: { DATABASE_URL: 'postgres://app:pw@db/x', pool: 4 },
          url: 'nats://svc:hunter2@nats:4222',
          err: new Error(`refused ${jwt}`),
        },
        'connecting',
      );
    });
    const attributes = span.events[0]!.attributes!;
    expect(attributes.authorization).toBe(REDACTED);
    expect(String(attributes.config)).toContain(REDACTED);
    expect(String(attributes.config)).toContain('"pool":4');
    expect(JSON.stringify(attributes)).not.toMatch(/hunter2|postgres:\/\/app:pw|eyJhbGci/);
    expect(attributes.err).toMatch(/^Error: refused/);
  });

  it(`keeps at most ${MAX_LOG_EVENTS_PER_SPAN} lines per span, then says once how many it left out`, () => {
    const span = inSpan('busy', () => {
      for (let i = 0; i < MAX_LOG_EVENTS_PER_SPAN + 20; i++) log.info({ i }, 'tick');
    });
    expect(span.events).toHaveLength(MAX_LOG_EVENTS_PER_SPAN + 1);
    expect(span.events[MAX_LOG_EVENTS_PER_SPAN]!.attributes!.msg).toMatch(/left out/);
  });

  it('does nothing outside a span, and writes every line as before', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const written = createLogger('log-events-test', 'info', sink);
    exporter.reset();
    written.info({ a: 1 }, 'outside');
    const span = inSpan('handle', () => written.info({ b: 2 }, 'inside'));
    expect(span.events).toHaveLength(1);
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: 'info', a: 1, msg: 'outside' }),
      expect.objectContaining({ level: 'info', b: 2, msg: 'inside' }),
    ]);
  });
});
