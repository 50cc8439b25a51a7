import { type Logger, pino } from 'pino';
import { REDACT_PATHS, REDACTED, scrubSecrets } from './redact.js';
import { logFacts } from './telemetry.js';

export type { Logger };

/**
 * JSON logs, object first. Inside a processed message every line carries its correlation_id and causation_id, and,
 * with tracing on, trace_id and span_id (added by the pino instrumentation), so logs and traces find each other.
 * Credentials never appear (redact.ts): fields named for them are censored, and every line is scrubbed of URL
 * passwords, bearer tokens and JWTs before it is written.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => logFacts() ?? {},
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    hooks: { streamWrite: scrubSecrets },
  });
}
