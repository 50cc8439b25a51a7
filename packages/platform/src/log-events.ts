import { type Span, trace } from '@opentelemetry/api';
import { redactedAttributes } from './redact.js';

/**
 * Log lines as span events: a line written while a span is active becomes an event named `log` on it (attributes
 * `level`, `msg` and the line's own fields, redacted as the line is), so whichever trace backend holds the span holds
 * the saga's log lines under the span that wrote them. At most `max` per span; the next one says how many were left
 * out, once. Without tracing there is no active span and nothing is done.
 */
export const MAX_LOG_EVENTS_PER_SPAN = 32;

const counts = new WeakMap<Span, number>();

export function logToActiveSpan(
  level: string,
  fields: Readonly<Record<string, unknown>> | undefined,
  msg: string | undefined,
  max = MAX_LOG_EVENTS_PER_SPAN,
): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  const count = counts.get(span) ?? 0;
  counts.set(span, count + 1);
  if (count > max) return;
  if (count === max) {
    span.addEvent('log', { level: 'warn', msg: `further log lines of this span left out (at most ${max} per span)` });
    return;
  }
  const { msg: _msg, level: _level, ...rest } = fields ?? {};
  span.addEvent('log', {
    ...redactedAttributes(rest),
    level,
    ...(msg !== undefined ? { msg: redactedAttributes({ msg }).msg as string } : {}),
  });
}
