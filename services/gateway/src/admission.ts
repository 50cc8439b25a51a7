import { counter, gauge, PROBLEM_CONTENT_TYPE } from '@jetsaga/platform';
import type { Context, MiddlewareHandler } from 'hono';

/**
 * Admission control (docs/adr/0038-admission-control.md). Past its capacity a system that takes every request queues
 * them all, and every queued request costs memory and CPU while it waits, so the completed rate falls as the offered
 * rate rises. The gateway instead bounds what it lets in and answers the rest at once with 429: a rejected request
 * is never forwarded and changes nothing.
 *
 * - Checkouts (each starts a saga, the expensive part): at most `checkouts` in flight, then a short FIFO queue of
 *   `checkoutQueue` waiting at most `checkoutQueueMs`; a checkout that finds the queue full or waits too long is
 *   rejected.
 * - New carts (a new shopper) are the first to go: none is let in while checkouts wait, or while `shopping`
 *   requests or more are in flight; they wait at that door in a short queue of their own (`newCartQueue`, as
 *   long as `checkoutQueueMs`), so a burst gets in a moment later and sustained overload is refused. A shopper turned away at the door has cost nothing; one turned away at the
 *   checkout has cost a cart and its lines, and the shoppers already between their cart and their checkout are the
 *   checkouts of the next moment. Requests of shoppers already shopping go on.
 * - Every forwarded request: at most `requests` in flight, no queue; a larger bound that keeps the sockets and
 *   buffered bodies of a slow upstream from growing without limit.
 */
export type AdmissionOptions = {
  checkouts: number;
  checkoutQueue: number;
  checkoutQueueMs: number;
  /** Requests in flight (of every kind) from which new carts wait, then are refused. */
  shopping: number;
  /** New carts that may wait for the door to open (default: `checkoutQueue`), each at most `checkoutQueueMs`. */
  newCartQueue?: number;
  requests: number;
  /** The `Retry-After` of a 429, in seconds. */
  retryAfterSeconds?: number;
};

export type RequestKind = 'checkout' | 'new-cart' | 'other';

const CHECKOUT = /^\/api\/carts\/[^/]+\/checkout$/;

export function kindOf(method: string, path: string): RequestKind {
  if (method !== 'POST') return 'other';
  if (CHECKOUT.test(path)) return 'checkout';
  return path === '/api/carts' ? 'new-cart' : 'other';
}

/** Why a request was turned away: the bound it met, for the problem's `errors` and the metrics' `reason`. */
export type Rejection = { bound: 'checkouts' | 'shopping' | 'requests'; reason: string };

/**
 * Joins a FIFO line: resolves with what the one who calls this waiter's grant passes (true: admitted), or false once
 * `queueMs` passed, leaving the line.
 */
function waitInLine(waiting: Array<(admitted: boolean) => void>, queueMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const grant = (admitted: boolean) => {
      clearTimeout(timer);
      resolve(admitted);
    };
    const timer = setTimeout(() => {
      const at = waiting.indexOf(grant);
      if (at >= 0) waiting.splice(at, 1);
      resolve(false);
    }, queueMs);
    waiting.push(grant);
  });
}

/** A counting semaphore with a bounded FIFO queue whose waiters give up after `queueMs`. */
export class Bound {
  inFlight = 0;
  private readonly waiting: Array<(admitted: boolean) => void> = [];

  constructor(
    readonly limit: number,
    readonly queue = 0,
    readonly queueMs = 0,
  ) {}

  get queued(): number {
    return this.waiting.length;
  }

  /** True when a slot was taken (call `release` once); false when the bound and the queue are full or the wait timed out. */
  acquire(): boolean | Promise<boolean> {
    if (this.inFlight < this.limit) {
      this.inFlight += 1;
      return true;
    }
    if (this.waiting.length >= this.queue) return false;
    return waitInLine(this.waiting, this.queueMs);
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the first waiter: in flight stays the same.
    if (next) next(true);
    else this.inFlight -= 1;
  }
}

export class TooManyRequestsError extends Error {
  override name = 'TooManyRequestsError';
  readonly status = 429;
  readonly title = 'Too many requests';
  constructor(
    readonly rejection: Rejection,
    readonly retryAfterSeconds: number,
    readonly limit: number,
  ) {
    super(`${rejection.reason}; nothing was changed, retry after ${retryAfterSeconds} s`);
  }
}

/**
 * The platform's problem+json shape (packages/platform/src/http.ts `problemResponse`, whose HttpError has no 429),
 * with `Retry-After` and the bound that was met.
 */
export function tooManyRequests(c: Context, error: TooManyRequestsError): Response {
  const body = {
    type: 'urn:jetsaga:problem:too-many-requests',
    title: error.title,
    status: error.status,
    detail: error.message,
    instance: c.req.path,
    requestId: c.get('requestId'),
    errors: [{ field: error.rejection.bound, reason: error.rejection.reason }],
    bound: error.rejection.bound,
    limit: error.limit,
    retryAfterSeconds: error.retryAfterSeconds,
  };
  return c.body(JSON.stringify(body), 429, { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Retry-After': String(error.retryAfterSeconds) });
}

/** Bounds the forwarded requests as described above; mount it on the proxied routes only. */
export function admission(options: AdmissionOptions): MiddlewareHandler {
  const retryAfter = options.retryAfterSeconds ?? 1;
  const checkouts = new Bound(options.checkouts, options.checkoutQueue, options.checkoutQueueMs);
  const requests = new Bound(options.requests);
  const rejected = counter({
    name: 'gateway_admission_rejected_total',
    help: 'Requests the gateway answered 429 without forwarding them, by request kind and the bound they met.',
    labelNames: ['kind', 'bound'],
  });
  gauge({
    name: 'gateway_inflight_requests',
    help: 'Requests the gateway is forwarding now (checkouts: those holding a checkout slot), and queued checkouts.',
    labelNames: ['bound'],
    collect() {
      this.set({ bound: 'requests' }, requests.inFlight);
      this.set({ bound: 'checkouts' }, checkouts.inFlight);
      this.set({ bound: 'checkouts-queued' }, checkouts.queued);
    },
  });
  gauge({
    name: 'gateway_admission_limit',
    help: 'The bounds the gateway admits requests under (GATEWAY_MAX_INFLIGHT_*).',
    labelNames: ['bound'],
    collect() {
      this.set({ bound: 'requests' }, requests.limit);
      this.set({ bound: 'shopping' }, options.shopping);
      this.set({ bound: 'checkouts' }, checkouts.limit);
    },
  });
  const reject = (c: Context, kind: RequestKind, rejection: Rejection, limit: number) => {
    rejected.inc({ kind, bound: rejection.bound });
    return tooManyRequests(c, new TooManyRequestsError(rejection, retryAfter, limit));
  };
  // New carts wait at the door, briefly, for it to open: a burst of shoppers gets in a moment later instead of a 429.
  const door = new Door(
    () => checkouts.queued === 0 && requests.inFlight < options.shopping,
    options.newCartQueue ?? options.checkoutQueue,
    options.checkoutQueueMs,
  );
  return async function admissionMiddleware(c, next) {
    const kind = kindOf(c.req.method, c.req.path);
    if (kind === 'new-cart') {
      const opened = door.enter();
      if (!(opened === true || (await opened))) {
        const reason =
          checkouts.queued > 0
            ? 'checkouts are waiting for a slot: no new carts until they are in'
            : `${options.shopping} requests in flight: no new carts until fewer are`;
        return reject(c, kind, { bound: checkouts.queued > 0 ? 'checkouts' : 'shopping', reason }, options.shopping);
      }
    }
    if (!requests.acquire()) {
      return reject(c, kind, { bound: 'requests', reason: `${requests.limit} requests in flight, the gateway's bound` }, requests.limit);
    }
    try {
      if (kind !== 'checkout') return await next();
      const admitted = checkouts.acquire();
      if (!(admitted === true || (await admitted))) {
        return reject(
          c,
          kind,
          { bound: 'checkouts', reason: `${checkouts.limit} checkouts in flight, the gateway's bound` },
          checkouts.limit,
        );
      }
      try {
        await next();
      } finally {
        checkouts.release();
      }
    } finally {
      requests.release();
      door.letIn();
    }
  };
}

/** A FIFO of requests waiting (at most `queueMs`, at most `queue` of them) until `isOpen()`; `letIn` rechecks. */
export class Door {
  private readonly waiting: Array<(admitted: boolean) => void> = [];

  constructor(
    private readonly isOpen: () => boolean,
    readonly queue: number,
    readonly queueMs: number,
  ) {}

  get queued(): number {
    return this.waiting.length;
  }

  /** True to go in now; a promise of whether the door opened in time; false when it is shut and the queue full. */
  enter(): boolean | Promise<boolean> {
    if (this.waiting.length === 0 && this.isOpen()) return true;
    if (this.waiting.length >= this.queue) return false;
    return waitInLine(this.waiting, this.queueMs);
  }

  /** Lets the first waiter in when the door is open (after any request ended). */
  letIn(): void {
    if (this.waiting.length > 0 && this.isOpen()) this.waiting.shift()?.(true);
  }
}
