import { COMPLAINT_PRIORITIES } from '@jetsaga/events';
import {
  actorOf,
  causedBy,
  ForbiddenError,
  handleCommand,
  NotFoundError,
  type Principal,
  readJson,
  readQuery,
  requestMetadata,
  runCommand,
  type ServiceDeps,
  uuidParam,
  ValidationError,
  withTransaction,
} from '@jetsaga/platform';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { recordSupportEvents } from '../metrics.js';
import { REFUND_REASONS } from '../refunds/refund.js';
import { refunds } from '../refunds/reactions.js';
import type { ComplaintCommand } from './complaint.js';
import { deadlineAt, type ResponseDeadlines } from './deadlines.js';
import { complaints } from './reactions.js';
import { complaintDetail, complaintView, findComplaint, listComplaints, type StoredComplaint } from './store.js';

const text = (max: number) => z.string().trim().min(1).max(max);

const openBody = z.strictObject({
  customerId: z.uuid(),
  orderId: z.uuid().optional(),
  shipmentId: z.uuid().optional(),
  title: text(200),
  description: text(5000),
  priority: z.enum(COMPLAINT_PRIORITIES),
  category: text(100),
});
const assignBody = z.strictObject({ agent: text(200) });
const resolveBody = z.strictObject({
  resolution: text(2000),
  refundCents: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});
const STATUSES = ['OPEN', 'ASSIGNED', 'IN_PROGRESS', 'RESOLVED', 'CLOSED'] as const;
const listQuery = z.strictObject({
  status: z.enum(STATUSES).optional(),
  priority: z.enum(COMPLAINT_PRIORITIES).optional(),
  customerId: z.uuid().optional(),
  orderId: z.uuid().optional(),
  assignee: text(200).optional(),
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/**
 * Who asks. Until every service verifies bearer tokens (issue 13), a request without a principal is served as the
 * other services serve it today, as an operator; once authentication is on, every /api/* request has one.
 */
function callerOf(c: Context): Principal {
  return (c.get('principal') as Principal | undefined) ?? { subject: 'api', role: 'admin', token: '' };
}

function actor(principal: Principal): string {
  return principal.subject === 'api' && principal.token === '' ? 'api' : actorOf(principal);
}

function requireStaff(principal: Principal): void {
  if (principal.role === 'customer') throw new ForbiddenError('only support agents and admins run the complaint desk');
}

/** A customer sees their own complaints only; someone else's is as unknown to them as one that does not exist. */
function visibleTo(principal: Principal, complaint: StoredComplaint | undefined, id: string): StoredComplaint {
  if (!complaint || (principal.role === 'customer' && complaint.customerId !== principal.subject)) {
    throw new NotFoundError(`complaint ${id} does not exist`);
  }
  return complaint;
}

const encodeCursor = (id: string) => Buffer.from(JSON.stringify({ c: id })).toString('base64url');

function decodeCursor(cursor: string): string {
  try {
    const { c } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { c: unknown };
    if (typeof c === 'string' && /^[0-9a-f-]{36}$/.test(c)) return c;
  } catch {
    // reported below
  }
  throw new ValidationError('the cursor is not one this API returned', [{ field: 'after', reason: 'invalid cursor' }]);
}

export function complaintRoutes(deps: ServiceDeps & { deadlines: ResponseDeadlines }): Hono {
  const { db } = deps;
  const app = new Hono();

  app.post('/api/complaints', async (c) => {
    const principal = callerOf(c);
    const body = await readJson(c, openBody);
    if (principal.role === 'customer' && body.customerId !== principal.subject) {
      throw new ForbiddenError('a customer opens complaints for themselves only');
    }
    const complaintId = deps.newId();
    const command: ComplaintCommand = {
      type: 'OpenComplaint',
      complaintId,
      ...body,
      automatic: false,
      deadlineAt: deadlineAt(deps.now(), body.priority, deps.deadlines),
    };
    await handleCommand(
      db,
      complaints,
      { id: complaintId, command, meta: requestMetadata(deps, c.get('requestId'), actor(principal)) },
      deps,
    );
    const created = await findComplaint(db, complaintId);
    if (!created) throw new Error('unreachable: an opened complaint exists');
    return c.json(complaintView(created), 201);
  });

  app.get('/api/complaints', async (c) => {
    const principal = callerOf(c);
    const query = readQuery(c, listQuery);
    if (principal.role === 'customer' && query.customerId && query.customerId !== principal.subject) {
      throw new ForbiddenError('a customer lists their own complaints only');
    }
    const customerId = principal.role === 'customer' ? principal.subject : query.customerId;
    const after = query.after ? decodeCursor(query.after) : undefined;
    const rows = await listComplaints(db, { ...query, customerId, after });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return c.json({ complaints: page.map(complaintView), next: rows.length > query.limit && last ? encodeCursor(last.id) : null });
  });

  app.get('/api/complaints/:id', async (c) => {
    const id = uuidParam(c, 'id', 'complaint');
    const complaint = visibleTo(callerOf(c), await findComplaint(db, id), id);
    return c.json(await complaintDetail(db, complaint));
  });

  /** One desk step: the command, by an agent or admin, on a complaint that exists; a refused transition is a 409. */
  async function step(c: Context, command: () => ComplaintCommand) {
    const principal = callerOf(c);
    requireStaff(principal);
    const id = uuidParam(c, 'id', 'complaint');
    const meta = requestMetadata(deps, c.get('requestId'), actor(principal));
    const wanted = command();
    const committed = await withTransaction(db, async (tx) => {
      const { state, events } = await runCommand(
        tx,
        complaints,
        { id, command: wanted, meta: (before) => ({ ...meta, correlationId: correlationOf(before, meta.correlationId) }) },
        deps,
      );
      const resolved = events.find((event) => event.type === 'ComplaintResolved');
      if (resolved?.type !== 'ComplaintResolved' || !resolved.data.refundId || resolved.data.refundCents === undefined) return events;
      if (state.status === 'NONE' || !state.orderId) return events;
      const { orderId } = state;
      const complaint = state;
      // The refund saga starts here: caused by the resolution, in the same transaction, so both exist or neither.
      const refund = await runCommand(
        tx,
        refunds,
        {
          id: resolved.data.refundId,
          command: {
            type: 'RequestRefund',
            refundId: resolved.data.refundId,
            orderId,
            customerId: complaint.customerId,
            amountCents: resolved.data.refundCents,
            reason: REFUND_REASONS.complaint,
            complaintId: id,
            shipmentId: complaint.shipmentId ?? undefined,
            incidentId: complaint.incidentId ?? undefined,
          },
          meta: causedBy(resolved, deps, meta.actor),
        },
        deps,
      );
      return [...events, ...refund.events];
    });
    recordSupportEvents(committed);
    const after = await findComplaint(db, id);
    if (!after) throw new NotFoundError(`complaint ${id} does not exist`);
    return c.json(await complaintDetail(db, after));
  }

  app.post('/api/complaints/:id/assign', async (c) => {
    const { agent } = await readJson(c, assignBody);
    return step(c, () => ({ type: 'AssignComplaint', agent }));
  });
  app.post('/api/complaints/:id/start', (c) => step(c, () => ({ type: 'StartProcessing' })));
  app.post('/api/complaints/:id/resolve', async (c) => {
    const { resolution, refundCents } = await readJson(c, resolveBody);
    return step(c, () => ({
      type: 'ResolveComplaint',
      resolution,
      ...(refundCents !== undefined ? { refundCents, refundId: deps.newId() } : {}),
    }));
  });
  app.post('/api/complaints/:id/close', (c) => step(c, () => ({ type: 'CloseComplaint' })));

  return app;
}

/** A desk step continues the complaint's own saga (its correlation), so the timeline of one complaint is one saga. */
function correlationOf(state: unknown, fallback: string): string {
  return (state as Partial<StoredComplaint>).correlationId ?? fallback;
}
