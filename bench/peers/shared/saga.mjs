// The order saga as one sequence of steps, shared by both benchmark peers: DBOS runs each step as a checkpointed
// step of a workflow, Temporal as an activity of a workflow. The steps themselves are in store.mjs.

/**
 * `step(name, input)` runs one named step durably (a DBOS step, a Temporal activity) and returns its result:
 * reserve -> charge -> record the sale -> commit the stock -> completed; out of stock -> cancelled; payment refused ->
 * release the reservation -> cancelled, as jetsaga's choreography. This module imports nothing, so Temporal's
 * sandboxed workflow bundle runs the very same function.
 */
export async function orderSaga(step, order) {
  const reserved = await step('reserveStock', order);
  if (reserved !== 'RESERVED') {
    await step('cancelOrder', { orderId: order.orderId, reason: 'OUT_OF_STOCK' });
    return 'CANCELLED';
  }
  const paid = await step('chargeCustomer', order);
  if (paid !== 'ACCEPTED') {
    await step('releaseStock', order);
    await step('cancelOrder', { orderId: order.orderId, reason: 'PAYMENT_REFUSED' });
    return 'CANCELLED';
  }
  await step('recordSale', order);
  await step('commitStock', order);
  await step('completeOrder', order);
  return 'COMPLETED';
}
