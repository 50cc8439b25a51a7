import { type Logger, pino } from 'pino';

export type { Logger };

/** JSON logs, object first; child loggers add correlation and causation ids per message. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
