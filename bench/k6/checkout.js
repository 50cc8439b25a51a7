/* global __ENV, open */
// k6 load for `npm run bench`: one iteration is one shopper (cart, one line, checkout) against the gateway, started
// open loop at RATE iterations per second for DURATION by the constant-arrival-rate executor. The saga that each
// checkout starts is timed by the bench itself, from the events in JetStream; k6 reports the HTTP side. A 429 (the
// gateway's admission control turning the shopper away, nothing changed) ends the shopper as rejected, not failed.
import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';

const base = __ENV.BASE_URL;
const seed = JSON.parse(open(__ENV.SEED_FILE));
const rate = Number(__ENV.RATE);
const maxVUs = Number(__ENV.MAX_VUS);

const accepted = new Counter('checkouts_accepted');
const failedFlows = new Counter('flows_failed');
const rejected = new Counter('shoppers_rejected');

// A 429 is an answer the system means to give under overload: not a failed request in k6's own figures either.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 399 }, 429));

export const options = {
  scenarios: {
    shoppers: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION,
      preAllocatedVUs: Math.min(maxVUs, Math.max(20, rate)),
      maxVUs,
      gracefulStop: '10s',
    },
  },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
  // Thresholds that always pass: they make k6 keep per-request sub-metrics in its summary.
  thresholds: {
    'http_req_duration{name:cart}': ['max>=0'],
    'http_req_duration{name:item}': ['max>=0'],
    'http_req_duration{name:checkout}': ['max>=0'],
    'shoppers_rejected{at:cart}': ['count>=0'],
    'shoppers_rejected{at:item}': ['count>=0'],
    'shoppers_rejected{at:checkout}': ['count>=0'],
  },
};

const json = { 'content-type': 'application/json' };
/** Each shopper is a customer with their own bearer token (jetsaga's seed signs one per customer; the peers have none). */
const bearer = (customerId) => (seed.tokens ? { authorization: `Bearer ${seed.tokens[customerId]}` } : {});

let reported = 0;

/**
 * A step of the flow that did not succeed: a 429 is a rejected shopper (counted by where it was turned away), anything
 * else a failure, counted and the first few per VU described (the bench keeps samples in its report).
 */
function failed(name, response) {
  if (response.status === 429) return rejected.add(1, { at: name });
  failedFlows.add(1);
  if (reported++ < 3) console.warn(`flow failed at ${name}: ${response.status} ${String(response.body ?? response.error).slice(0, 300)}`);
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

export default function shopper() {
  const customerId = pick(seed.customers);
  const auth = bearer(customerId);
  const cart = http.post(`${base}/api/carts`, JSON.stringify({ customerId }), {
    headers: { ...json, ...auth },
    tags: { name: 'cart' },
  });
  if (!check(cart, { 'cart created': (r) => r.status === 201 })) return failed('cart', cart);
  const cartId = cart.json('id');
  const item = http.post(`${base}/api/carts/${cartId}/items`, JSON.stringify({ productId: pick(seed.products), quantity: 1 }), {
    headers: { ...json, ...auth },
    tags: { name: 'item' },
  });
  if (!check(item, { 'item added': (r) => r.status === 200 })) return failed('item', item);
  const checkout = http.post(`${base}/api/carts/${cartId}/checkout`, null, { headers: auth, tags: { name: 'checkout' } });
  if (!check(checkout, { 'checkout accepted': (r) => r.status === 202 })) return failed('checkout', checkout);
  accepted.add(1);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY_FILE]: JSON.stringify(data) };
}
