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

async function getJson(url: string): Promise<unknown | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    throw new UpstreamError(`${new URL(url).origin} did not answer`, { cause: error });
  }
  if (response.status === 404) return undefined;
  if (!response.ok) throw new UpstreamError(`${url} answered ${response.status}`);
  return response.json();
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
