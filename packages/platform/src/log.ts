import { type Logger, pino } from 'pino';
import { logFacts } from './telemetry.js';

export type { Logger };

/**
 * JSON logs, object first. Inside a processed message every line carries its correlation_id and causation_id, and,
 * with tracing on, trace_id and span_id (added by the pino instrumentation), so logs and traces find each other.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => logFacts() ?? {},
  });
}
