import { z } from 'zod';

/** The envelope every domain event travels in, on the wire and in the event store. */
export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  schemaVersion: z.number().int().positive(),
  aggregateType: z.string().min(1),
  aggregateId: z.string().min(1),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.uuid(),
  causationId: z.string().min(1),
  actor: z.string().min(1),
  data: z.unknown(),
});

export type Envelope = z.infer<typeof envelopeSchema>;

/** What the caller of `createEvent` supplies besides the data: identity, time and causality come in, never from globals. */
export type EventMeta = {
  id: string;
  occurredAt: string;
  correlationId: string;
  causationId: string;
  actor: string;
};

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  constructor(
    message: string,
    readonly issues: ReadonlyArray<{ path: string; message: string }> = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function zodIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}
