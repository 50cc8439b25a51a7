import { useState } from 'react';
import { duration } from '../lib/format.js';
import { layout, type Trace, type WaterfallRow } from '../lib/waterfall.js';

const LANE_COLOURS = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be185d', '#0e7490', '#4d7c0f', '#9f1239', '#374151'];

function SpanDetail({ row }: { row: WaterfallRow }) {
  return (
    <div className="span-detail" data-testid="span-detail">
      <h3>
        {row.span.service} · {row.span.name}
      </h3>
      <p>
        {row.span.kind} · {duration(row.durationMs)} · starts at +{duration(row.offsetMs)} · status {row.span.status.code}
        {row.span.status.message ? `: ${row.span.status.message}` : ''}
      </p>
      <h4>Attributes</h4>
      <table className="kv">
        <tbody>
          {Object.entries(row.span.attributes).map(([key, value]) => (
            <tr key={key}>
              <th scope="row">{key}</th>
              <td>{typeof value === 'string' ? value : JSON.stringify(value)}</td>
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
 * A trace as a span waterfall: one row per span in causal order, coloured by service (the lanes), bars placed on the
 * trace's time axis, the time a message waited between two services shown before the span that received it, errors
 * in red, and each span's log lines (span events named `log`) under it.
 */
export function Waterfall({ trace }: { trace: Trace }) {
  const { lanes, rows, totalMs } = layout(trace.spans);
  const [open, setOpen] = useState<string | null>(null);
  const scale = (value: number) => `${totalMs > 0 ? (value / totalMs) * 100 : 0}%`;
  return (
    <div className="waterfall" data-testid="waterfall">
      <ul className="lanes" aria-label="Services">
        {lanes.map((lane, index) => (
          <li key={lane}>
            <span className="swatch" style={{ background: LANE_COLOURS[index % LANE_COLOURS.length] }} />
            {lane}
          </li>
        ))}
        <li>total {duration(totalMs)}</li>
      </ul>
      <ol className="spans" aria-label="Spans in causal order">
        {rows.map((row) => (
          <li key={row.span.spanId} data-service={row.span.service} data-span={row.span.name} className={row.error ? 'span error' : 'span'}>
            <button
              type="button"
              className="span-row"
              aria-expanded={open === row.span.spanId}
              onClick={() => setOpen(open === row.span.spanId ? null : row.span.spanId)}
            >
              <span className="span-label" style={{ paddingLeft: `${row.depth * 0.75}rem` }}>
                <span className="service">{row.span.service}</span> {row.span.name}
              </span>
              <span className="track">
                {row.hop && row.hop.waitMs > 0 ? (
                  <span
                    className="gap"
                    style={{ left: scale(row.offsetMs - row.hop.waitMs), width: scale(row.hop.waitMs) }}
                    title={`waited ${duration(row.hop.waitMs)} after ${row.hop.from}`}
                  />
                ) : null}
                <span
                  className="bar"
                  style={{
                    left: scale(row.offsetMs),
                    width: `max(2px, ${scale(row.durationMs)})`,
                    background: row.error ? '#b91c1c' : LANE_COLOURS[row.lane % LANE_COLOURS.length],
                  }}
                />
              </span>
              <span className="span-time">
                {duration(row.durationMs)}
                {row.hop ? <span className="wait"> · waited {duration(row.hop.waitMs)}</span> : null}
              </span>
            </button>
            {row.logs.length > 0 ? (
              <ul className="logs" aria-label={`log lines of ${row.span.name}`}>
                {row.logs.map((log, index) => (
                  <li key={index} className={`log ${String(log.attributes.level ?? 'info')}`}>
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
