import { Agent, get } from 'node:http';
import { UpstreamError } from '@jetsaga/platform';

export type ProductInfo = { id: string; priceCents: number };

/**
 * Synchronous queries to the services that own customers and products. Commands and their effects travel as
 * events; a cart only needs to know, at the moment of the request, that a customer exists and what a product costs.
 */
export type Lookups = {
  product(id: string): Promise<ProductInfo | undefined>;
  customerExists(id: string): Promise<boolean>;
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
function getJson(url: string, retried = false): Promise<unknown | undefined> {
  return new Promise((resolve, reject) => {
    const upstream = () => new URL(url).origin;
    const outgoing = get(url, { agent, headers: { accept: 'application/json' } }, (response) => {
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
      if (!retried && outgoing.reusedSocket && error.code === 'ECONNRESET') return resolve(getJson(url, true));
      reject(new UpstreamError(`${upstream()} did not answer`, { cause: error }));
    });
  });
}

export function httpLookups(urls: { inventory: string; payment: string }): Lookups {
  return {
    async product(id) {
      const body = (await getJson(`${urls.inventory}/api/products/${id}`)) as ProductInfo | undefined;
      return body && { id: body.id, priceCents: body.priceCents };
    },
    async customerExists(id) {
      return (await getJson(`${urls.payment}/api/customers/${id}`)) !== undefined;
    },
  };
}
