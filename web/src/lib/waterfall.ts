/** A span as GET /api/sagas/:correlationId/trace gives it (normalised from Jaeger or Tempo). */
export type TraceSpan = {
  spanId: string;
  parentSpanId: string | null;
  traceId: string;
  service: string;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message?: string };
  attributes: Record<string, unknown>;
  events: { name: string; timeUnixNano: string; attributes: Record<string, unknown> }[];
};

export type Trace = { correlationId: string; traceId: string; backend: 'jaeger' | 'tempo'; spans: TraceSpan[] };

export type WaterfallRow = {
  span: TraceSpan;
  depth: number;
  lane: number;
  /** From the trace's first span's start. */
  offsetMs: number;
  durationMs: number;
  /**
   * A hop: this span runs in another service than its parent's. The time between the parent's end (or, for a child
   * that starts inside its parent, nothing) and this span's start: the message waiting in JetStream.
   */
  hop?: { from: string; waitMs: number };
  logs: { offsetMs: number; attributes: Record<string, unknown> }[];
  error: boolean;
  /** A database query (a `db.*` span): many per handler, hidden by default in the waterfall. */
  database: boolean;
};

export type Waterfall = { lanes: string[]; rows: WaterfallRow[]; totalMs: number };

const ms = (nanos: bigint) => Number(nanos) / 1e6;

/** A database client span (OpenTelemetry's pg instrumentation: `db.system`, or a `pg.` name). */
export const isDatabase = (span: TraceSpan) =>
  span.kind === 'CLIENT' && ('db.system' in span.attributes || 'db.system.name' in span.attributes || span.name.startsWith('pg.'));

/**
 * Lays a trace out for the waterfall: rows in causal order (depth first from the roots, siblings by start time, so a
 * reaction follows the publish that caused it), one lane per service in order of first appearance, and for each hop
 * between services the time the message spent between them.
 */
export function layout(spans: readonly TraceSpan[]): Waterfall {
  if (spans.length === 0) return { lanes: [], rows: [], totalMs: 0 };
  const start = (span: TraceSpan) => BigInt(span.startTimeUnixNano);
  const end = (span: TraceSpan) => BigInt(span.endTimeUnixNano);
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const children = new Map<string | null, TraceSpan[]>();
  for (const span of spans) {
    // A parent that is not in the trace (sampled out, from another trace) makes its child a root.
    const parent = span.parentSpanId && byId.has(span.parentSpanId) ? span.parentSpanId : null;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  for (const list of children.values()) list.sort((a, b) => (start(a) < start(b) ? -1 : start(a) > start(b) ? 1 : 0));
  const origin = spans.reduce((min, span) => (start(span) < min ? start(span) : min), start(spans[0]!));
  const finish = spans.reduce((max, span) => (end(span) > max ? end(span) : max), end(spans[0]!));
  const lanes: string[] = [];
  const rows: WaterfallRow[] = [];
  const visit = (span: TraceSpan, depth: number, parent: TraceSpan | undefined) => {
    if (!lanes.includes(span.service)) lanes.push(span.service);
    const row: WaterfallRow = {
      span,
      depth,
      lane: lanes.indexOf(span.service),
      offsetMs: ms(start(span) - origin),
      durationMs: ms(end(span) - start(span)),
      logs: span.events
        .filter((event) => event.name === 'log')
        .map((event) => ({ offsetMs: ms(BigInt(event.timeUnixNano) - origin), attributes: event.attributes })),
      error: span.status.code === 'ERROR',
      database: isDatabase(span),
    };
    if (parent && parent.service !== span.service) {
      const gap = start(span) - end(parent);
      row.hop = { from: parent.service, waitMs: gap > 0n ? ms(gap) : 0 };
    }
    rows.push(row);
    for (const child of children.get(span.spanId) ?? []) visit(child, depth + 1, span);
  };
  for (const root of children.get(null) ?? []) visit(root, 0, undefined);
  return { lanes, rows, totalMs: ms(finish - origin) };
}
