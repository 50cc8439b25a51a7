/**
 * Token buckets, one per key (a client address, a principal), pure: the caller passes the time. A bucket holds at
 * most `capacity` tokens and gains `capacity / windowSeconds` a second, so a client may send `capacity` requests in
 * a burst and `capacity` per window sustained; each request takes one token, and one that finds none is refused.
 */
export type BucketPolicy = {
  /** The quota: the burst a full bucket allows, and what it regains over one window. */
  capacity: number;
  windowSeconds: number;
};

export type Take = {
  allowed: boolean;
  /** Whole tokens left after this request (the draft's `r`). */
  remaining: number;
  /** Seconds until the bucket is full again (the draft's `t`: when the whole quota is back). */
  resetSeconds: number;
  /** When refused: seconds until one token is back (`Retry-After`); 0 when allowed. */
  retryAfterSeconds: number;
};

type Bucket = { tokens: number; at: number };

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  /** `maxKeys` bounds the memory many distinct clients can take. */
  constructor(
    readonly policy: BucketPolicy,
    readonly maxKeys = 100_000,
  ) {
    if (!(policy.capacity >= 1) || !(policy.windowSeconds > 0)) throw new RangeError('a bucket needs capacity >= 1 and a window > 0');
    this.perMs = policy.capacity / (policy.windowSeconds * 1000);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token of `key`'s bucket at `nowMs` (any monotonic clock in milliseconds). */
  take(key: string, nowMs: number): Take {
    const { capacity } = this.policy;
    const bucket = this.buckets.get(key);
    const tokens = bucket ? Math.min(capacity, bucket.tokens + Math.max(0, nowMs - bucket.at) * this.perMs) : capacity;
    const allowed = tokens >= 1;
    const left = allowed ? tokens - 1 : tokens;
    if (bucket) {
      // Re-inserted, so the map's order is least recently used first.
      this.buckets.delete(key);
    } else if (this.buckets.size >= this.maxKeys) {
      this.evict();
    }
    this.buckets.set(key, { tokens: left, at: nowMs });
    return {
      allowed,
      remaining: Math.floor(left),
      resetSeconds: Math.ceil((capacity - left) / this.perMs / 1000),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - left) / this.perMs / 1000)),
    };
  }

  /**
   * Forgets the least recently used tenth: the longest idle, so the likeliest to be full again (as good as new).
   * Amortised: one eviction makes room for many new keys.
   */
  private evict(): void {
    let drop = Math.max(1, Math.floor(this.maxKeys / 10));
    for (const key of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}
