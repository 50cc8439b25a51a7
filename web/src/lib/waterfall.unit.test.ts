import { describe, expect, it } from 'vitest';
import { layout, type TraceSpan } from './waterfall.js';

const base = 1_700_000_000_000_000_000n;
function span(
  spanId: string,
  parentSpanId: string | null,
  service: string,
  startMs: number,
  endMs: number,
  extra: Partial<TraceSpan> = {},
): TraceSpan {
  return {
    spanId,
    parentSpanId,
    traceId: 't',
    service,
    name: `${service} ${spanId}`,
    kind: 'INTERNAL',
    startTimeUnixNano: String(base + BigInt(startMs * 1e6)),
    endTimeUnixNano: String(base + BigInt(endMs * 1e6)),
    durationMs: endMs - startMs,
    status: { code: 'UNSET' },
    attributes: {},
    events: [],
    ...extra,
  };
}

describe('waterfall layout', () => {
  it('given a checkout trace, rows follow causality, lanes are services, hops carry the wait between them', () => {
    const spans = [
      span('c', 'b', 'inventory', 12, 15),
      span('a', null, 'gateway', 0, 10),
      span('b', 'a', 'order', 1, 6),
      span('d', 'c', 'payment', 20, 22, { status: { code: 'ERROR', message: 'refused' } }),
      span('e', 'b', 'order', 3, 4, {
        events: [{ name: 'log', timeUnixNano: String(base + 3_500_000n), attributes: { level: 'info', msg: 'saved' } }],
      }),
    ];
    const { lanes, rows, totalMs } = layout(spans);
    expect(rows.map((row) => row.span.spanId)).toEqual(['a', 'b', 'e', 'c', 'd']);
    expect(lanes).toEqual(['gateway', 'order', 'inventory', 'payment']);
    expect(rows.map((row) => row.depth)).toEqual([0, 1, 2, 2, 3]);
    expect(rows.find((row) => row.span.spanId === 'c')?.hop).toEqual({ from: 'order', waitMs: 6 });
    expect(rows.find((row) => row.span.spanId === 'b')?.hop).toEqual({ from: 'gateway', waitMs: 0 });
    expect(rows.find((row) => row.span.spanId === 'e')?.hop).toBeUndefined();
    expect(rows.find((row) => row.span.spanId === 'e')?.logs).toEqual([{ offsetMs: 3.5, attributes: { level: 'info', msg: 'saved' } }]);
    expect(rows.filter((row) => row.error).map((row) => row.span.spanId)).toEqual(['d']);
    expect(totalMs).toBe(22);
  });

  it('a span whose parent is not in the trace starts a tree of its own', () => {
    const { rows } = layout([span('x', 'missing', 'sales', 5, 6), span('y', null, 'order', 0, 1)]);
    expect(rows.map((row) => [row.span.spanId, row.depth])).toEqual([
      ['y', 0],
      ['x', 0],
    ]);
  });

  it('marks database queries (hidden by default) and nothing else', () => {
    const { rows } = layout([
      span('a', null, 'order', 0, 10, { kind: 'CONSUMER', name: 'process events.order.*.OrderPlaced' }),
      span('b', 'a', 'order', 1, 2, { kind: 'CLIENT', name: 'pg.query:INSERT jetsaga', attributes: { 'db.system': 'postgresql' } }),
      span('c', 'a', 'order', 3, 4, { kind: 'PRODUCER', name: 'send events.order.*.OrderCompleted' }),
    ]);
    expect(rows.map((row) => [row.span.spanId, row.database])).toEqual([
      ['a', false],
      ['b', true],
      ['c', false],
    ]);
  });
});
