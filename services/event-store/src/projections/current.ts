import { type DomainEvent, type Envelope, eventDefinition } from '@jetsaga/events';

/** A mirrored event as projections read it: the current schema version of its type, and its stream position. */
export type PositionedEvent = DomainEvent & { position: number };

/**
 * Reads an envelope that was already validated (envelopeSchema) as the current schema version of its type: the part of
 * parseEvent that checks the type and its data, so neither the envelope nor the JSON is parsed a second time.
 * Undefined when the catalogue cannot read it (unknown type, newer version, invalid data): projections skip it.
 */
export function currentOf(envelope: Envelope): DomainEvent | undefined {
  const definition = eventDefinition(envelope.type);
  if (!definition || definition.aggregateType !== envelope.aggregateType) return undefined;
  let { schemaVersion, data } = envelope;
  if (schemaVersion > definition.schemaVersion) return undefined;
  try {
    while (schemaVersion < definition.schemaVersion) {
      const upcast = definition.upcasters?.[schemaVersion];
      if (!upcast) return undefined;
      data = upcast(data, envelope);
      schemaVersion += 1;
    }
  } catch {
    return undefined;
  }
  const parsed = definition.data.safeParse(data);
  if (!parsed.success) return undefined;
  return { ...envelope, schemaVersion, data: parsed.data } as DomainEvent;
}

/**
 * A mirrored payload read back: `readable` says the mirror already checked it against its type's schema, so at the
 * current version it is used as it is; otherwise (older version, or a row mirrored before that flag) as currentOf.
 */
export function readAgain(envelope: Envelope, readable: boolean | null): DomainEvent | undefined {
  if (readable && eventDefinition(envelope.type)?.schemaVersion === envelope.schemaVersion) return envelope as DomainEvent;
  return currentOf(envelope);
}
