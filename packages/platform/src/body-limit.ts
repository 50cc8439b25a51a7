import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { HttpError } from './errors.js';

/** What a request body may weigh by default: the API's documents are small JSON objects. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export class PayloadTooLargeError extends HttpError {
  override name = 'PayloadTooLargeError';
  constructor(readonly maxBytes: number) {
    super(413, 'Payload too large', `the request body is larger than ${maxBytes} bytes; nothing was changed`, [
      { field: '', reason: `at most ${maxBytes} bytes` },
    ]);
  }
}

/**
 * Refuses a body larger than `maxBytes` with 413 problem+json before any handler reads it: by its Content-Length at
 * once, or, chunked, as soon as the bytes read pass the bound (the rest is never buffered).
 */
export function bodyLimit(maxBytes = DEFAULT_MAX_BODY_BYTES): MiddlewareHandler {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new PayloadTooLargeError(maxBytes);
    },
  });
}
