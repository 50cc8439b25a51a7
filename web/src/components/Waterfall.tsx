import { useState } from 'react';
import { duration } from '../lib/format.js';
import { layout, type Trace, type WaterfallRow } from '../lib/waterfall.js';

const LANE_COLOURS = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be185d', '#0e7490', '#4d7c0f', '#9f1239', '#374151'];
const laneColour = (lane: number) => LANE_COLOURS[lane % LANE_COLOURS.length]!;

const text = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

function SpanDetail({ row }: { row: WaterfallRow }) {
  return (
    <div className="span-detail" data-testid="span-detail">
      <h3>
        {row.span.service} · {row.span.name}
      </h3>
      <p>
        {row.span.kind} · {duration(row.durationMs)} · starts at +{duration(row.offsetMs)} · status {row.span.status.code}
        {row.span.status.message ? `: ${row.span.status.message}` : ''}
        {row.hop ? ` · after ${duration(row.hop.waitMs)} on its way from ${row.hop.from}` : ''}
      </p>
      <p className="hint">
        span <code>{row.span.spanId}</code> of trace <code>{row.span.traceId}</code>
        {row.span.parentSpanId ? (
          <>
            , child of <code>{row.span.parentSpanId}</code>
          </>
        ) : null}
      </p>
      <h4>Attributes</h4>
      <table className="kv" aria-label={`Attributes of ${row.span.name}`}>
        <tbody>
          {Object.entries(row.span.attributes).map(([key, value]) => (
            <tr key={key}>
              <th scope="row">{key}</th>
              <td>{text(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {row.span.events.length > 0 ? (
        <>
          <h4>Events</h4>
          <ul>
            {row.span.events.map((event, index) => (
              <li key={index}>
                <strong>{event.name}</strong> <code>{JSON.stringify(event.attributes)}</code>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

/**
 * A trace as a span waterfall: one row per span in causal order, each service a lane (its colour, and its name at the
 * row's start), bars placed on the trace's time axis, the time a message waited between two services (in JetStream,
 * or on the wire) drawn before the span that received it, errors in red, and each span's log lines (span events named
 * `log`) under it. Database queries are many per handler: hidden until asked for.
 */
export function Waterfall({ trace }: { trace: Trace }) {
  const { lanes, rows, totalMs } = layout(trace.spans);
  const [open, setOpen] = useState<string | null>(null);
  const [showDatabase, setShowDatabase] = useState(false);
  const queries = rows.filter((row) => row.database).length;
  const shown = showDatabase ? rows : rows.filter((row) => !row.database);
  const hops = rows.filter((row) => row.hop);
  const waited = hops.reduce((sum, row) => sum + (row.hop?.waitMs ?? 0), 0);
  const scale = (value: number) => `${totalMs > 0 ? (value / totalMs) * 100 : 0}%`;
  return (
    <div className="waterfall" data-testid="waterfall">
      <ul className="lanes" aria-label="Services">
        {lanes.map((lane, index) => (
          <li key={lane}>
            <span className="swatch" style={{ background: laneColour(index) }} />
            {lane}
          </li>
        ))}
      </ul>
      <p className="waterfall-summary">
        {rows.length} spans in {lanes.length} services over {duration(totalMs)}; {hops.length} hops between services, waiting{' '}
        {duration(waited)} in all{trace.backend ? ` (from ${trace.backend})` : ''}.{' '}
        {queries > 0 ? (
          <label className="inline">
            <input type="checkbox" checked={showDatabase} onChange={(event) => setShowDatabase(event.target.checked)} /> show the {queries}{' '}
            database queries
          </label>
        ) : null}
      </p>
      <ol className="spans" aria-label="Spans in causal order">
        {shown.map((row) => (
          <li
            key={row.span.spanId}
            data-span-id={row.span.spanId}
            data-parent-id={row.span.parentSpanId ?? ''}
            data-service={row.span.service}
            data-kind={row.span.kind}
            data-span={row.span.name}
            {...(row.hop ? { 'data-hop-from': row.hop.from } : {})}
            className={row.error ? 'span error' : 'span'}
            style={{ borderLeftColor: laneColour(row.lane) }}
          >
            <button
              type="button"
              className="span-row"
              aria-expanded={open === row.span.spanId}
              onClick={() => setOpen(open === row.span.spanId ? null : row.span.spanId)}
            >
              <span className="span-label" style={{ paddingLeft: `${row.depth * 0.6}rem` }}>
                <span className="service" style={{ color: laneColour(row.lane) }}>
                  {row.span.service}
                </span>{' '}
                {row.error ? <span className="sr-only">error: </span> : null}
                {row.span.name}
              </span>
              <span className="track" aria-hidden="true">
                {row.hop && row.hop.waitMs > 0 ? (
                  <span className="gap" style={{ left: scale(row.offsetMs - row.hop.waitMs), width: scale(row.hop.waitMs) }} />
                ) : null}
                <span
                  className="bar"
                  style={{
                    left: scale(row.offsetMs),
                    width: `max(2px, ${scale(row.durationMs)})`,
                    background: row.error ? '#b91c1c' : laneColour(row.lane),
                  }}
                />
              </span>
              <span className="span-time">
                {duration(row.durationMs)}
                {row.hop ? (
                  <span className="wait">
                    {' '}
                    · {row.hop.waitMs > 0 ? `${duration(row.hop.waitMs)} ` : ''}from {row.hop.from}
                  </span>
                ) : null}
              </span>
            </button>
            {row.logs.length > 0 ? (
              <ul className="logs" aria-label={`log lines of ${row.span.name}`}>
                {row.logs.map((log, index) => (
                  <li key={index} className={`log ${String(log.attributes.level ?? 'info')}`} title={JSON.stringify(log.attributes)}>
                    <span className="level">{String(log.attributes.level ?? 'info')}</span> {String(log.attributes.msg ?? '')}{' '}
                    <code>
                      {JSON.stringify(
                        Object.fromEntries(Object.entries(log.attributes).filter(([key]) => key !== 'level' && key !== 'msg')),
                      )}
                    </code>
                  </li>
                ))}
              </ul>
            ) : null}
            {open === row.span.spanId ? <SpanDetail row={row} /> : null}
          </li>
        ))}
      </ol>
    </div>
  );
}
