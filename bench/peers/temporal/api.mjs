// Benchmark peer, Temporal: the shop's HTTP process. A checkout commits the order, then starts its workflow
// (workflow id = order id) through the Temporal client; the worker process runs it. Never part of the product.
//
// Environment: TEMPORAL_ADDRESS, DATABASE_URL, PORT, TASK_QUEUE.
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import pg from 'pg';
import { serveShop } from '../shared/http.mjs';
import { pendingOrders } from '../shared/store.mjs';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
const client = new Client({ connection, namespace: 'default' });
const taskQueue = process.env.TASK_QUEUE ?? 'orders';

async function start(order) {
  try {
    await client.workflow.start('orderWorkflow', { taskQueue, workflowId: order.orderId, args: [order] });
  } catch (error) {
    // Started before (the sweep below after a crash): the same saga, nothing to do.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

// An order placed whose workflow a crash kept from starting: started now.
for (const order of await pendingOrders(pool)) await start(order);
const server = await serveShop({ pool, port: Number(process.env.PORT), name: 'temporal', startSaga: start });
console.log(`temporal peer ready on 127.0.0.1:${process.env.PORT}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    server.close();
    await connection.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    process.exit(0);
  });
}
