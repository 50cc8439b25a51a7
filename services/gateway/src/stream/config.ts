import { z } from 'zod';

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The event stream's bounds (README, API; docs/adr/0054-live-event-stream.md). */
export const STREAM_CONFIG = {
  // Open streams per principal (role and subject): a 429 beyond. The console holds one or two per page.
  GATEWAY_SSE_MAX_STREAMS_PER_PRINCIPAL: count(16),
  GATEWAY_SSE_MAX_STREAMS: count(2000),
  // What one slow client may hold in the gateway, beside one batch of GATEWAY_SSE_BATCH messages.
  GATEWAY_SSE_BUFFER_BYTES: count(256 * 1024),
  // A client that takes nothing this long while its buffer is full gets `event: overflow` and resumes from there.
  GATEWAY_SSE_STALL_MS: count(30_000),
  GATEWAY_SSE_PING_MS: count(15_000),
  GATEWAY_SSE_BATCH: count(64),
  // How long the live tail gathers events before it writes them to its clients: one socket write per client per
  // flush instead of per event; the delay a console page sees on top of the saga's.
  GATEWAY_SSE_FLUSH_MS: z.coerce.number().int().min(0).max(1000).default(50),
};

type StreamConfig = z.infer<z.ZodObject<typeof STREAM_CONFIG>>;

export function streamLimits(config: StreamConfig) {
  return {
    perPrincipal: config.GATEWAY_SSE_MAX_STREAMS_PER_PRINCIPAL,
    total: config.GATEWAY_SSE_MAX_STREAMS,
    bufferBytes: config.GATEWAY_SSE_BUFFER_BYTES,
    stallMs: config.GATEWAY_SSE_STALL_MS,
    pingMs: config.GATEWAY_SSE_PING_MS,
    batch: config.GATEWAY_SSE_BATCH,
    flushMs: config.GATEWAY_SSE_FLUSH_MS,
  };
}
