import { z } from 'zod';

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * The gateway's limits, from the environment (npm start and the test harness pass every GATEWAY_* variable on).
 * The rate defaults are generous on purpose: the bench and the test suites run hundreds of sagas a second from one
 * address with one admin token. A deployment facing the internet sets its own (README, Security).
 */
export const HARDENING_CONFIG = {
  // Token buckets: a quota of requests per window, as a burst and sustained.
  GATEWAY_RATE_WINDOW_S: count(60),
  GATEWAY_RATE_ADDRESS_QUOTA: count(1_200_000),
  GATEWAY_RATE_CUSTOMER_QUOTA: count(6_000),
  GATEWAY_RATE_AGENT_QUOTA: count(60_000),
  GATEWAY_RATE_ADMIN_QUOTA: count(1_200_000),
  // Proxies in front of the gateway that append to X-Forwarded-For; 0: the socket's peer is the client.
  GATEWAY_TRUSTED_PROXIES: z.coerce.number().int().min(0).default(0),
  GATEWAY_MAX_BODY_BYTES: count(1024 * 1024),
  GATEWAY_UPSTREAM_TIMEOUT_MS: count(30_000),
  // Comma-separated origins allowed to call the API from a browser; none by default.
  GATEWAY_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((list) =>
      list
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url())),
};

export type HardeningConfig = z.infer<z.ZodObject<typeof HARDENING_CONFIG>>;
