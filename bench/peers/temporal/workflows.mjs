// The Temporal workflow of the benchmark peer: the shared saga sequence, each step an activity (retried by the
// server on failure; the activities are idempotent by order id). Bundled by the worker into its sandbox.
import { proxyActivities } from '@temporalio/workflow';
import { orderSaga } from '../shared/saga.mjs';

const activities = proxyActivities({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '100 milliseconds', backoffCoefficient: 2, maximumInterval: '5 seconds' },
});

export async function orderWorkflow(order) {
  return orderSaga((name, input) => activities[name](input), order);
}
