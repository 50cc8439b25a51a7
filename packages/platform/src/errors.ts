/** A field-level reason, as problem+json reports it. */
export type FieldError = { field: string; reason: string };

/** Errors that carry an HTTP status; one middleware maps them to RFC 9457 problem+json. */
export class HttpError extends Error {
  override name = 'HttpError';
  /** When set, the problem's `Retry-After` (seconds): the request changed nothing and may be sent again then. */
  declare readonly retryAfterSeconds?: number;
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 500 | 502 | 503 | 504,
    readonly title: string,
    message: string,
    readonly errors: readonly FieldError[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class ValidationError extends HttpError {
  override name = 'ValidationError';
  constructor(message: string, errors: readonly FieldError[] = [], options?: ErrorOptions) {
    super(400, 'Invalid request', message, errors, options);
  }
}

/** No identity, or one that could not be verified (missing, malformed, expired or foreign token). */
export class UnauthorizedError extends HttpError {
  override name = 'UnauthorizedError';
  constructor(message: string, options?: ErrorOptions) {
    super(401, 'Unauthorized', message, [], options);
  }
}

/** A bearer token was given but cannot be trusted; RFC 6750 names this `invalid_token` in the challenge. */
export class InvalidTokenError extends UnauthorizedError {
  override name = 'InvalidTokenError';
}

export class ForbiddenError extends HttpError {
  override name = 'ForbiddenError';
  constructor(message: string) {
    super(403, 'Forbidden', message);
  }
}

export class NotFoundError extends HttpError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super(404, 'Not found', message);
  }
}

export class ConflictError extends HttpError {
  override name = 'ConflictError';
  constructor(message: string, options?: ErrorOptions) {
    super(409, 'Conflict', message, [], options);
  }
}

export class UnprocessableError extends HttpError {
  override name = 'UnprocessableError';
  constructor(message: string, errors: readonly FieldError[] = []) {
    super(422, 'Unprocessable request', message, errors);
  }
}

/**
 * What the request needs is down for a moment (the database restarting, unreachable or out of connections): not the
 * caller's fault, so 503 with `Retry-After` rather than 500, and a client that waits that long and sends it again
 * normally succeeds.
 */
export class UnavailableError extends HttpError {
  override name = 'UnavailableError';
  constructor(
    message: string,
    override readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super(503, 'Service unavailable', message, [], options);
  }
}

export class UpstreamError extends HttpError {
  override name = 'UpstreamError';
  constructor(message: string, options?: ErrorOptions) {
    super(502, 'Bad gateway', message, [], options);
  }
}

/**
 * A handler error that retrying cannot fix (a business rule broken by the message itself):
 * the message goes to the dead-letter stream at once instead of being redelivered.
 */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/**
 * A message that cannot be applied yet but may be soon (what it depends on is on its way through another consumer):
 * redelivered on its own, shorter schedule instead of the consumer's backoff, and dead-lettered, with this error as
 * the reason, once the consumer's attempts are used up.
 */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
  constructor(
    message: string,
    readonly retryDelaysMs: readonly number[],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
