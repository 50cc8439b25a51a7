import { Agent, get } from 'node:http';
import { counter, type Tx, UpstreamError } from '@jetsaga/platform';
import { knownCustomer, knownPrice } from './catalog/store.js';

export type ProductInfo = { id: string; priceCents: number };

/**
 * What a cart needs to know at the moment of the request: that a customer exists and what a product costs. Commands
 * and their effects travel as events; these answers come from order's own read model of the owners' events
 * (`localLookups`), and from the owners themselves over HTTP only when the read model has not seen the id yet.
 */
export type Lookups = {
  /** `token`: the caller's bearer token, forwarded to the owner (every service verifies tokens itself). */
  product(id: string, token?: string): Promise<ProductInfo | undefined>;
  customerExists(id: string, token?: string): Promise<boolean>;
};

/**
 * Kept-alive connections to inventory and payment. node:http rather than fetch: two look-ups per shopper, and fetch's
 * web streams cost several times the CPU of a plain request on this path (docs/performance.md).
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const LOOKUP_TIMEOUT_MS = 5000;

/**
 * A kept-alive socket that the other side closes as the request goes out (its idle timeout, say right after the
 * process was paused) resets before any answer: the look-up is a GET, so it is sent again once on a fresh socket.
 */
function getJson(url: string, token: string | undefined, retried = false): Promise<unknown | undefined> {
  return new Promise((resolve, reject) => {
    const upstream = () => new URL(url).origin;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const outgoing = get(url, { agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', (error) => reject(new UpstreamError(`${upstream()} did not answer`, { cause: error })));
      response.once('end', () => {
        const status = response.statusCode ?? 502;
        if (status === 404) return resolve(undefined);
        if (status < 200 || status >= 300) return reject(new UpstreamError(`${url} answered ${status}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(new UpstreamError(`${url} answered with invalid JSON`, { cause: error }));
        }
      });
    });
    outgoing.setTimeout(LOOKUP_TIMEOUT_MS, () => outgoing.destroy(new Error(`no answer within ${LOOKUP_TIMEOUT_MS} ms`)));
    outgoing.once('error', (error: NodeJS.ErrnoException) => {
      if (!retried && outgoing.reusedSocket && error.code === 'ECONNRESET') return resolve(getJson(url, token, true));
      reject(new UpstreamError(`${upstream()} did not answer`, { cause: error }));
    });
  });
}

export function httpLookups(urls: { inventory: string; payment: string }): Lookups {
  return {
    async product(id, token) {
      const body = (await getJson(`${urls.inventory}/api/products/${id}`, token)) as ProductInfo | undefined;
      return body && { id: body.id, priceCents: body.priceCents };
    },
    async customerExists(id, token) {
      return (await getJson(`${urls.payment}/api/customers/${id}`, token)) !== undefined;
    },
  };
}

/**
 * How each look-up was answered: `hit` from the read model; `miss` by the owner, which knew the id (the read model
 * had not caught up yet, so this stays near zero in steady state); `unknown` by the owner, which did not know it either
 * (the request gets its 422).
 */
const lookupsAnswered = () =>
  counter({
    name: 'order_catalog_lookups_total',
    help: "Customer and product look-ups of carts, by how they were answered (order's read model or the owning service).",
    labelNames: ['lookup', 'result'],
  });

/**
 * Reads order's read model first (one primary-key SELECT in its own schema) and asks the owner only on a miss, so
 * nothing that the owner would accept is refused while an event is still on its way (ADR 0039). The owner's answer is
 * not written back: the read model stays a pure projection of the stream, and the event follows within milliseconds.
 */
export function localLookups(db: Pick<Tx, 'query'>, fallback: Lookups): Lookups {
  const answered = lookupsAnswered();
  return {
    async product(id, token) {
      const priceCents = await knownPrice(db, id);
      if (priceCents !== undefined) {
        answered.inc({ lookup: 'product', result: 'hit' });
        return { id, priceCents };
      }
      const product = await fallback.product(id, token);
      answered.inc({ lookup: 'product', result: product ? 'miss' : 'unknown' });
      return product;
    },
    async customerExists(id, token) {
      if (await knownCustomer(db, id)) {
        answered.inc({ lookup: 'customer', result: 'hit' });
        return true;
      }
      const exists = await fallback.customerExists(id, token);
      answered.inc({ lookup: 'customer', result: exists ? 'miss' : 'unknown' });
      return exists;
    },
  };
}
