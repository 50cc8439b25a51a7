import type { IncomingMessage } from 'node:http';
import { counter, HttpError, type Principal, problemResponse, type Role } from '@jetsaga/platform';
import type { Context, MiddlewareHandler } from 'hono';
import { type BucketPolicy, type Take, TokenBuckets } from './token-bucket.js';

/**
 * Rate limits at the gateway, token buckets per client address (before authentication: it also bounds what costs
 * a failed token check) and per principal (after it, one quota per role). A refused request is answered 429
 * problem+json with `Retry-After` and never forwarded, so it changes nothing.
 *
 * Every answer of a limited route says where the client stands, in the fields of the IETF draft
 * draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "address";q=600;w=60` (the quota `q` over `w` seconds)
 * and `RateLimit: "address";r=599;t=1` (`r` requests left, the whole quota back after `t` seconds). Both are
 * lists: an authenticated request carries the address's item and the principal's.
 */
export type NamedPolicy = BucketPolicy & { name: string };

const rejected = () =>
  counter({
    name: 'gateway_rate_limited_total',
    help: 'Requests the gateway answered 429 because a rate limit (GATEWAY_RATE_*) was spent, by policy.',
    labelNames: ['policy'],
  });
let rejectedCounter: ReturnType<typeof rejected> | undefined;

export class RateLimitedError extends HttpError {
  override name = 'RateLimitedError';
  constructor(
    readonly policy: string,
    override readonly retryAfterSeconds: number,
    quota: BucketPolicy,
  ) {
    super(
      429,
      'Too many requests',
      `the ${policy} rate limit (${quota.capacity} requests per ${quota.windowSeconds} s) is spent; nothing was changed, retry after ${retryAfterSeconds} s`,
      [{ field: policy, reason: `at most ${quota.capacity} requests per ${quota.windowSeconds} s` }],
    );
  }
}

/** The structured-field items of one policy and one take (a policy name is an sf-string: quoted). */
export function policyItem(policy: NamedPolicy): string {
  return `"${policy.name}";q=${policy.capacity};w=${policy.windowSeconds}`;
}
export function limitItem(policy: NamedPolicy, take: Take): string {
  return `"${policy.name}";r=${take.remaining};t=${take.resetSeconds}`;
}

export type RateLimitOptions = {
  /** The bucket's key and policy for this request; undefined: not limited here. */
  select: (c: Context) => { key: string; policy: NamedPolicy } | undefined;
  /** The clock, in milliseconds (injected for tests). */
  now?: () => number;
  maxKeys?: number;
};

/** One limiter: a bucket per key, one set of buckets per policy. */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  const now = options.now ?? (() => performance.now());
  const sets = new Map<string, TokenBuckets>();
  rejectedCounter ??= rejected();
  const counted = rejectedCounter;
  return async function rateLimitMiddleware(c, next) {
    const selected = options.select(c);
    if (!selected) return next();
    const { key, policy } = selected;
    let buckets = sets.get(policy.name);
    if (!buckets) sets.set(policy.name, (buckets = new TokenBuckets(policy, options.maxKeys)));
    const take = buckets.take(key, now());
    if (take.allowed) {
      await next();
    } else {
      counted.inc({ policy: policy.name });
      c.res = problemResponse(c, new RateLimitedError(policy.name, take.retryAfterSeconds, policy));
    }
    // After next(): on the answer whatever it is (forwarded, an error, or a 429 of another limit or of admission).
    c.res.headers.append('RateLimit-Policy', policyItem(policy));
    c.res.headers.append('RateLimit', limitItem(policy, take));
  };
}

/**
 * The client's address: the socket's peer, or, behind `trustedProxies` proxies that each append the address they
 * saw to `X-Forwarded-For`, the entry the outermost trusted one wrote (entries left of it are the client's to forge).
 */
export function clientAddress(c: Context, trustedProxies: number): string {
  const peer = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress ?? 'unknown';
  if (trustedProxies <= 0) return peer;
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustedProxies] ?? peer;
}

export function addressRateLimit(policy: BucketPolicy, trustedProxies = 0, now?: () => number): MiddlewareHandler {
  const named = { ...policy, name: 'address' };
  return rateLimit({ select: (c) => ({ key: clientAddress(c, trustedProxies), policy: named }), ...(now ? { now } : {}) });
}

/** Per principal, a quota per role; a request without one (refused by authentication anyway) is not counted here. */
export function principalRateLimit(policies: Record<Role, BucketPolicy>, now?: () => number): MiddlewareHandler {
  const named = Object.fromEntries(Object.entries(policies).map(([role, policy]) => [role, { ...policy, name: role }])) as Record<
    Role,
    NamedPolicy
  >;
  return rateLimit({
    select: (c) => {
      const principal = c.get('principal') as Principal | undefined;
      return principal ? { key: `${principal.role}:${principal.subject}`, policy: named[principal.role] } : undefined;
    },
    ...(now ? { now } : {}),
  });
}
