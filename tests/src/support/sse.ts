import { waitFor } from '@jetsaga/devstack';

/** One Server-Sent Events frame as a client sees it (comments left out). */
export type SseFrame = { id?: string; event: string; data: string };

/**
 * A Server-Sent Events client over fetch and a body reader, as the console reads the stream (it sends a bearer header,
 * which EventSource cannot): frames parsed as they arrive, kept in order.
 */
export class SseClient {
  readonly frames: SseFrame[] = [];
  comments = 0;
  ended = false;
  private readonly abort = new AbortController();
  private constructor(readonly response: Response) {}

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const controller = new AbortController();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    const client = new SseClient(response);
    client.abort.signal.addEventListener('abort', () => controller.abort());
    if (response.ok && response.body) void client.read(response.body);
    return client;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let current: { id?: string; event?: string; data: string[] } = { data: [] };
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          if (line === '') {
            if (current.data.length > 0) {
              this.frames.push({
                ...(current.id !== undefined ? { id: current.id } : {}),
                event: current.event ?? 'message',
                data: current.data.join('\n'),
              });
            }
            current = { data: [] };
          } else if (line.startsWith(':')) {
            this.comments += 1;
          } else {
            const colon = line.indexOf(':');
            const name = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (name === 'id') current.id = value;
            else if (name === 'event') current.event = value;
            else if (name === 'data') current.data.push(value);
          }
        }
      }
    } catch {
      // aborted
    } finally {
      this.ended = true;
    }
  }

  /** The frames whose envelope satisfies `where`, parsed. */
  envelopes(where: (envelope: any) => boolean = () => true): Array<{ id: string; event: string; envelope: any }> {
    return this.frames
      .filter((f) => f.event !== 'overflow')
      .map((f) => ({ id: f.id ?? '', event: f.event, envelope: JSON.parse(f.data) }))
      .filter((f) => where(f.envelope));
  }

  /** Waits until `ready` holds over what arrived. */
  until<T>(what: string, ready: (client: SseClient) => T | undefined | false, timeoutMs = 30_000): Promise<T> {
    return waitFor(what, async () => ready(this) || undefined, timeoutMs, 20);
  }

  close(): void {
    this.abort.abort();
  }
}
