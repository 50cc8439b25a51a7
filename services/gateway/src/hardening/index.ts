import type { MiddlewareHandler } from 'hono';
import type { HardeningConfig } from './config.js';
import { cors, securityHeaders } from './headers.js';
import { addressRateLimit, principalRateLimit } from './rate-limit.js';

export { HARDENING_CONFIG, type HardeningConfig } from './config.js';

/** The gateway's edge (docs: README, Security): what runs on every request, and the limit that needs a principal. */
export function hardening(config: HardeningConfig): { edge: MiddlewareHandler[]; perPrincipal: MiddlewareHandler } {
  const windowSeconds = config.GATEWAY_RATE_WINDOW_S;
  const perAddress = addressRateLimit({ capacity: config.GATEWAY_RATE_ADDRESS_QUOTA, windowSeconds }, config.GATEWAY_TRUSTED_PROXIES);
  return {
    edge: [
      securityHeaders(),
      cors(config.GATEWAY_CORS_ORIGINS),
      // Before authentication: a flood of bad tokens is bounded too. Probes and documents are not limited.
      function apiOnly(c, next) {
        return c.req.path.startsWith('/api/') ? perAddress(c, next) : next();
      },
    ],
    perPrincipal: principalRateLimit({
      customer: { capacity: config.GATEWAY_RATE_CUSTOMER_QUOTA, windowSeconds },
      agent: { capacity: config.GATEWAY_RATE_AGENT_QUOTA, windowSeconds },
      admin: { capacity: config.GATEWAY_RATE_ADMIN_QUOTA, windowSeconds },
    }),
  };
}
