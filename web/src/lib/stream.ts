import { useEffect, useRef, useState } from 'react';
import { getSession } from './session.js';
import { SseParser } from './sse.js';

/** An event of the EVENTS stream as the gateway's SSE endpoint sends it: the envelope, and its stream sequence. */
export type StreamEvent = {
  seq: number;
  id: string;
  type: string;
  schemaVersion: number;
  aggregateType: string;
  aggregateId: string;
  occurredAt: string;
  correlationId: string;
  causationId: string;
  actor: string;
  data: unknown;
};

export type StreamFilter = { type?: string; aggregateType?: string; aggregateId?: string; correlationId?: string };
export type StreamState = 'connecting' | 'open' | 'retrying' | 'closed' | 'forbidden' | 'unavailable';

export type StreamOptions = StreamFilter & {
  /** Start after this stream sequence (a page that loaded the history first). */
  after?: number;
  /** With no sequence to start after: the saga's whole history (`start`) or new events only (the default). */
  from?: 'start' | 'now';
  onEvent: (event: StreamEvent) => void;
  onState?: (state: StreamState, detail?: string) => void;
  /**
   * How many 403s to take for a "not yet": a customer's just-placed order reaches the read model the gateway checks
   * ownership against a moment later, and on a busy system that may be more than the gateway waits.
   */
  forbiddenRetries?: number;
  signal: AbortSignal;
};

const RETRY_MS = [500, 1000, 2000, 5000, 10_000];

/**
 * Reads GET /api/stream/events with fetch and a ReadableStream rather than EventSource: EventSource cannot send the
 * Authorization header. After a drop it connects again with `Last-Event-ID` (the last sequence received), so no event
 * is lost or repeated across the gap; 401/403 stop it (a new token or another filter is needed, not a retry).
 */
export async function followEvents(options: StreamOptions): Promise<void> {
  const { signal } = options;
  let lastId = options.after !== undefined ? String(options.after) : undefined;
  let attempt = 0;
  let forbiddenRetries = options.forbiddenRetries ?? 0;
  while (!signal.aborted) {
    options.onState?.(attempt === 0 ? 'connecting' : 'retrying');
    const params = new URLSearchParams();
    for (const key of ['type', 'aggregateType', 'aggregateId', 'correlationId'] as const) {
      const value = options[key];
      if (value) params.set(key, value);
    }
    if (lastId === undefined && options.from === 'start') params.set('from', 'start');
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    const token = getSession()?.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (lastId !== undefined) headers['last-event-id'] = lastId;
    try {
      const response = await fetch(`/api/stream/events?${params}`, { headers, signal, cache: 'no-store' });
      if (response.status === 403 && forbiddenRetries > 0) {
        forbiddenRetries -= 1;
        await response.body?.cancel();
        throw new Error('the stream answered 403 (the order may not be in the read model yet)');
      }
      if (response.status === 401 || response.status === 403) {
        options.onState?.('forbidden', `${response.status}`);
        return;
      }
      if (response.status === 404) {
        options.onState?.('unavailable', 'this gateway has no event stream');
        return;
      }
      if (!response.ok || !response.body) throw new Error(`the stream answered ${response.status}`);
      options.onState?.('open');
      attempt = 0;
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const message of parser.feed(value)) {
          const seq = Number(message.id);
          if (message.id !== undefined) lastId = message.id;
          try {
            options.onEvent({ ...(JSON.parse(message.data) as Omit<StreamEvent, 'seq'>), seq });
          } catch {
            // A message that is not an envelope is not an event of the log: skipped.
          }
        }
      }
    } catch (error) {
      if (signal.aborted) break;
      options.onState?.('retrying', error instanceof Error ? error.message : String(error));
    }
    const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
    attempt += 1;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, delay);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)), { once: true });
    });
  }
  options.onState?.('closed');
}

/** Follows the stream while the component is mounted (and the filter unchanged); `enabled: false` waits. */
export function useEventStream(
  filter: StreamFilter & { after?: number; from?: 'start' | 'now'; enabled?: boolean; forbiddenRetries?: number },
  onEvent: (event: StreamEvent) => void,
) {
  const [state, setState] = useState<{ state: StreamState; detail?: string }>({ state: 'connecting' });
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = JSON.stringify(filter);
  useEffect(() => {
    if (filter.enabled === false) return;
    const controller = new AbortController();
    const { enabled: _enabled, ...rest } = filter;
    void followEvents({
      ...rest,
      signal: controller.signal,
      onEvent: (event) => handler.current(event),
      onState: (next, detail) => setState(detail === undefined ? { state: next } : { state: next, detail }),
    });
    return () => controller.abort();
  }, [key]);
  return state;
}
