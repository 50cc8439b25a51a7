// Benchmark peer, Temporal: the worker process. It runs the order workflow (in Temporal's sandbox) and its
// activities, which do the business work on the shop's Postgres tables. Never part of the product.
//
// Environment: TEMPORAL_ADDRESS, DATABASE_URL, TASK_QUEUE.
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pg from 'pg';
import { sagaSteps } from '../shared/store.mjs';

Runtime.install({ logger: new DefaultLogger(process.env.TEMPORAL_LOG_LEVEL ?? 'WARN') });
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
const worker = await Worker.create({
  connection,
  namespace: 'default',
  taskQueue: process.env.TASK_QUEUE ?? 'orders',
  workflowsPath: fileURLToPath(new URL('./workflows.mjs', import.meta.url)),
  activities: sagaSteps(pool),
});
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => worker.shutdown());
console.log('temporal worker ready');
await worker.run();
await pool.end();
await connection.close();
