#!/usr/bin/env node
// `npm run demo`: against a running system (npm start, or GATEWAY_URL), creates sample data and runs the three
// saga outcomes: COMPLETED, CANCELLED/OUT_OF_STOCK and CANCELLED/PAYMENT_REFUSED.
// Every /api route needs a bearer token: an admin one from npm start's development issuer (or JETSAGA_TOKEN).
import { bearerToken } from './token.mjs';

const gateway = process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080';
const token = await bearerToken({ role: 'admin' });

async function call(method, path, body) {
  const response = await fetch(`${gateway}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new Error(`${method} ${path} -> ${response.status} ${text}`);
  return json;
}

async function waitForTerminal(orderId, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const order = await call('GET', `/api/orders/${orderId}`);
    if (order.status !== 'PENDING') return order;
    if (Date.now() > deadline) throw new Error(`order ${orderId} still PENDING after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function checkout(customerId, productId, quantity) {
  const cart = await call('POST', '/api/carts', { customerId });
  await call('POST', `/api/carts/${cart.id}/items`, { productId, quantity });
  const { orderId } = await call('POST', `/api/carts/${cart.id}/checkout`);
  return waitForTerminal(orderId);
}

const run = Date.now().toString(36);
const rich = await call('POST', '/api/customers', { name: 'Ada Lovelace', email: `ada+${run}@example.org`, balanceCents: 100_000 });
const poor = await call('POST', '/api/customers', { name: 'Charles Babbage', email: `charles+${run}@example.org`, balanceCents: 500 });
const lamp = await call('POST', '/api/products', { sku: `LAMP-${run}`, name: 'Brass lamp', priceCents: 2_500, stock: 5 });
console.log(`customers: ${rich.name} (${rich.balanceCents} cents), ${poor.name} (${poor.balanceCents} cents)`);
console.log(`product:   ${lamp.name}, ${lamp.priceCents} cents, stock ${lamp.available}\n`);

const scenarios = [
  ['success', rich.id, 2],
  ['out of stock', rich.id, 50],
  ['payment refused', poor.id, 1],
];
for (const [label, customerId, quantity] of scenarios) {
  const order = await checkout(customerId, lamp.id, quantity);
  console.log(
    `${label.padEnd(16)} order ${order.id}: ${order.status}${order.reason ? ` (${order.reason})` : ''}, ${order.totalCents} cents, correlation ${order.correlationId}`,
  );
}
const after = await call('GET', `/api/products/${lamp.id}`);
const balance = await call('GET', `/api/customers/${rich.id}`);
console.log(`\nstock now: available ${after.available}, reserved ${after.reserved}; ${rich.name}'s balance: ${balance.balanceCents} cents`);
