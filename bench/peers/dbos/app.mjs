// Benchmark peer: the order saga on DBOS Transact, one process (HTTP, workflows, steps), on Postgres. Each checkout
// starts one durable workflow (id = the order id) whose steps reserve the stock, charge the customer, record the
// sale and commit the stock, or compensate; DBOS checkpoints every step's result in its system database, and
// recovers unfinished workflows when the process starts again. Never part of the product (see bench/README.md).
//
// Environment: DATABASE_URL (the shop's tables), SYSTEM_DATABASE_URL (DBOS's own), PORT.
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { serveShop } from '../shared/http.mjs';
import { orderSaga } from '../shared/saga.mjs';
import { pendingOrders, sagaSteps } from '../shared/store.mjs';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
const steps = sagaSteps(pool);

const orderWorkflow = DBOS.registerWorkflow(
  // A step that fails (a lost connection, say) is retried, as Temporal retries an activity; steps are idempotent.
  (order) =>
    orderSaga(
      (name, input) => DBOS.runStep(() => steps[name](input), { name, retriesAllowed: true, intervalSeconds: 0.1, maxAttempts: 10 }),
      order,
    ),
  { name: 'orderSaga' },
);

const start = (order) => DBOS.startWorkflow(orderWorkflow, { workflowID: order.orderId })(order);

DBOS.setConfig({
  name: 'jetsaga-bench-dbos',
  applicationVersion: '1',
  systemDatabaseUrl: process.env.SYSTEM_DATABASE_URL,
  logLevel: process.env.DBOS_LOG_LEVEL ?? 'warn',
  // No admin server (its default port, 3001, is fixed): the bench reads everything it needs from the tables.
  runAdminServer: false,
});
await DBOS.launch();
// An order placed whose workflow a crash kept from starting: started now (a started one is found by its id).
for (const order of await pendingOrders(pool)) await start(order);
await serveShop({ pool, port: Number(process.env.PORT), name: 'dbos', startSaga: start });
console.log(`dbos peer ready on 127.0.0.1:${process.env.PORT}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    await DBOS.shutdown().catch(() => undefined);
    await pool.end().catch(() => undefined);
    process.exit(0);
  });
}
