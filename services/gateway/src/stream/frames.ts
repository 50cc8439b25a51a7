/**
 * Server-Sent Events framing (WHATWG HTML, "Server-sent events"): each field is a `name: value` line, a frame ends
 * with an empty line, a line starting with `:` is a comment. A value never holds a line break: data with line breaks
 * becomes several `data:` lines, which the client joins with `\n` again.
 */
const encoder = new TextEncoder();
const LF = 0x0a;
const CR = 0x0d;

export type Frame = { id?: string; event?: string; data: string | Uint8Array };

function field(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`an SSE ${name} may not hold a line break`);
  return `${name}: ${value}\n`;
}

/** The `data:` lines of a payload: one per line of it (CRLF, CR or LF), the bytes copied as they are. */
function dataLines(data: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    const byte = data[i];
    if (i < data.length && byte !== LF && byte !== CR) continue;
    parts.push(encoder.encode('data: '), data.subarray(start, i), encoder.encode('\n'));
    if (byte === CR && data[i + 1] === LF) i++;
    start = i + 1;
  }
  return parts;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One event: `id:`, `event:` and the data lines, then the blank line that dispatches it. */
export function frame(event: Frame): Uint8Array {
  let head = '';
  if (event.id !== undefined) head += field('id', event.id);
  if (event.event !== undefined) head += field('event', event.event);
  const data = typeof event.data === 'string' ? encoder.encode(event.data) : event.data;
  return concat([encoder.encode(head), ...dataLines(data), encoder.encode('\n')]);
}

/** The client's reconnection delay alone (no data: nothing is dispatched). */
export function retry(ms: number): Uint8Array {
  return encoder.encode(`retry: ${Math.max(0, Math.trunc(ms))}\n\n`);
}

/** A comment line (`: ping`): keeps proxies and the client from taking a quiet stream for a dead one. */
export function comment(text: string): Uint8Array {
  return encoder.encode(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
}

/**
 * Where a client resumes: the `Last-Event-ID` header (what a reconnecting EventSource sends) wins over `?after=`;
 * both are EVENTS stream sequences. Anything else than a whole number is no position (undefined); a bad `after` is
 * the caller's to refuse, a bad header is ignored as the specification asks of servers that cannot use it.
 */
export function resumeAfter(lastEventId: string | undefined, after: number | undefined): number | undefined {
  if (lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId.trim())) return Number(lastEventId.trim());
  return after;
}
