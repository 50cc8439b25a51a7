import { waitFor } from '@jetsaga/devstack';
import type { Role } from '@jetsaga/platform';
import { adminToken, tokenFor } from './tokens.js';

export type ApiResponse<T = any> = { status: number; body: T; headers: Headers };

export type Order = {
  id: string;
  customerId: string;
  status: 'PENDING' | 'COMPLETED' | 'CANCELLED';
  reason?: 'OUT_OF_STOCK' | 'PAYMENT_REFUSED' | 'DEADLINE_EXCEEDED';
  lines: Array<{ productId: string; quantity: number; priceCents: number }>;
  totalCents: number;
  correlationId: string;
  /** The trace the checkout started, when tracing is on. */
  traceId?: string;
};

export type Complaint = {
  id: string;
  customerId: string;
  orderId?: string;
  shipmentId?: string;
  incidentId?: string;
  status: 'OPEN' | 'ASSIGNED' | 'IN_PROGRESS' | 'RESOLVED' | 'CLOSED';
  priority: string;
  automatic: boolean;
  assignee?: string;
  escalation?: 'UNASSIGNED' | 'UNRESOLVED';
  refundCents?: number;
  refundId?: string;
  refunds?: Array<{ refundId: string; amountCents: number; status: 'REQUESTED' | 'REFUNDED' | 'REJECTED'; rejectionReason?: string }>;
  timeline?: Array<{ type: string; occurredAt: string; actor: string }>;
  correlationId: string;
};

/** How long a helper keeps retrying a request the gateway turned away with 429 and `Retry-After`. */
const ADMISSION_PATIENCE_MS = 30_000;

/** A bearer token, or how to get one when the first request needs it. */
export type TokenSource = string | (() => Promise<string>);

export type ApiClientOptions = {
  /** The bearer token sent on every request; default: the suite's admin token (tests/src/support/tokens.ts); null: none. */
  token?: TokenSource | null;
  /** The whole Authorization header instead (a malformed one, another scheme). */
  authorization?: string;
};

/** A thin client over the gateway's HTTP contract, as a user's client would call it, as one principal. */
export function apiClient(baseUrl: string, options: ApiClientOptions = {}) {
  const source = options.token === undefined ? adminToken : options.token;
  let token: Promise<string> | undefined;
  /** The Authorization header of this client's principal, for a test that calls fetch itself. */
  async function authHeaders(): Promise<Record<string, string>> {
    if (options.authorization !== undefined) return { authorization: options.authorization };
    if (source === null) return {};
    token ??= typeof source === 'string' ? Promise.resolve(source) : source();
    return { authorization: `Bearer ${await token}` };
  }
  async function call<T = any>(method: string, path: string, body?: unknown, raw?: string): Promise<ApiResponse<T>> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(await authHeaders()),
        ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: raw ?? (body !== undefined ? JSON.stringify(body) : undefined),
    });
    const text = await response.text();
    // JSON answers parsed; anything else (the console's index.html at /) kept as the text it is.
    const json = /\bjson\b/.test(response.headers.get('content-type') ?? '');
    return { status: response.status, body: text ? (json ? JSON.parse(text) : text) : undefined, headers: response.headers };
  }
  /**
   * As a well-behaved client does: a 429 from the gateway's admission control changed nothing, so the request is sent
   * again after the `Retry-After` it names, until a deadline. `call` stays raw for tests of the 429 itself.
   */
  async function ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const deadline = Date.now() + ADMISSION_PATIENCE_MS;
    let response = await call<T>(method, path, body);
    while (response.status === 429 && Date.now() < deadline) {
      const seconds = Number(response.headers.get('retry-after') ?? '1');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0.05, Number.isFinite(seconds) ? seconds : 1) * 1000));
      response = await call<T>(method, path, body);
    }
    if (response.status >= 300) throw new Error(`${method} ${path} -> ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }
  const api = {
    call,
    ok,
    complaint: (body: { customerId: string; title: string; description: string; priority: string; category: string; orderId?: string }) =>
      ok<Complaint>('POST', '/api/complaints', body),
    getComplaint: (id: string) => ok<Complaint>('GET', `/api/complaints/${id}`),
    authHeaders,
    /** The same API as another principal: `api.as('customer', customerId)`, `api.as('agent')`. */
    as: (role: Role, subject?: string) => apiClient(baseUrl, { token: () => tokenFor(role, subject) }),
    /** The same API with another token (or none: `api.withToken(null)`). */
    withToken: (other: TokenSource | null) => apiClient(baseUrl, { token: other }),
    customer: (balanceCents: number, name = 'Test Customer') =>
      ok<{ id: string; balanceCents: number }>('POST', '/api/customers', {
        name,
        email: `c${Math.random().toString(36).slice(2)}@example.org`,
        balanceCents,
      }),
    product: (stock: number, priceCents: number) =>
      ok<{ id: string; available: number; reserved: number; priceCents: number }>('POST', '/api/products', {
        sku: `SKU-${Math.random().toString(36).slice(2)}`,
        name: 'Test product',
        priceCents,
        stock,
      }),
    getProduct: (id: string) => ok<{ id: string; available: number; reserved: number }>('GET', `/api/products/${id}`),
    getCustomer: (id: string) => ok<{ id: string; balanceCents: number }>('GET', `/api/customers/${id}`),
    cart: (customerId: string) => ok<{ id: string }>('POST', '/api/carts', { customerId }),
    addItem: (cartId: string, productId: string, quantity: number) => ok('POST', `/api/carts/${cartId}/items`, { productId, quantity }),
    checkout: async (cartId: string) => (await ok<{ orderId: string }>('POST', `/api/carts/${cartId}/checkout`)).orderId,
    order: (id: string) => ok<Order>('GET', `/api/orders/${id}`),
    /** Polls the order until the saga ended (COMPLETED or CANCELLED). */
    terminal: (id: string, timeoutMs = 60_000) =>
      waitFor(
        `order ${id} to end`,
        async () => {
          const order = await ok<Order>('GET', `/api/orders/${id}`);
          return order.status === 'PENDING' ? undefined : order;
        },
        timeoutMs,
        50,
      ),
    /** One customer, one cart with one product line, checked out: the order id. */
    buy: async (customerId: string, productId: string, quantity: number) => {
      const cart = await api.cart(customerId);
      await api.addItem(cart.id, productId, quantity);
      return api.checkout(cart.id);
    },
  };
  return api;
}

export type Api = ReturnType<typeof apiClient>;
