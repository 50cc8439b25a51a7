import { type DestinationStream, type Logger, pino } from 'pino';
import { REDACT_PATHS, REDACTED, scrubLine } from './redact.js';
import { logToActiveSpan } from './log-events.js';
import { logFacts } from './telemetry.js';

export type { Logger };

/**
 * JSON logs, object first. Inside a processed message every line carries its correlation_id and causation_id, and,
 * with tracing on, trace_id and span_id (added by the pino instrumentation), so logs and traces find each other.
 * Credentials never appear (redact.ts): fields named for them are censored, and every line is scrubbed of URL
 * passwords, bearer tokens, JWTs and email addresses (ADR 0052) before it is written. A line written inside an active span is also an event
 * `log` on that span (log-events.ts), so the trace carries the saga's log lines.
 */
export function createLogger(service: string, level = 'info', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => logFacts() ?? {},
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    hooks: {
      streamWrite: scrubLine,
      logMethod(args, method, level) {
        const [first, second] = args as unknown[];
        const fields =
          typeof first === 'object' && first !== null
            ? first instanceof Error
              ? { err: first }
              : (first as Record<string, unknown>)
            : undefined;
        const msg =
          typeof first === 'string'
            ? first
            : typeof second === 'string'
              ? second
              : fields?.err instanceof Error
                ? fields.err.message
                : undefined;
        logToActiveSpan(this.levels.labels[level] ?? String(level), fields, msg);
        method.apply(this, args);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
