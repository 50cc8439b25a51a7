import { COMPLAINT_PRIORITIES } from '@jetsaga/events';
import {
  actorOf,
  assertOwner,
  causedBy,
  ForbiddenError,
  handleCommand,
  NotFoundError,
  pathId,
  type Principal,
  requestMetadata,
  type Routes,
  routes,
  runCommand,
  type ServiceDeps,
  UnprocessableError,
  UpstreamError,
  ValidationError,
  withTransaction,
} from '@jetsaga/platform';
import type { Context } from 'hono';
import { z } from 'zod';
import { recordSupportEvents } from '../metrics.js';
import { REFUND_REASONS } from '../refunds/refund.js';
import { refunds } from '../refunds/reactions.js';
import type { ComplaintCommand } from './complaint.js';
import { deadlineAt, type ResponseDeadlines } from './deadlines.js';
import { complaints } from './reactions.js';
import { complaintDetail, complaintView, findComplaint, listComplaints, type StoredComplaint } from './store.js';

/** Free text; control characters (NUL above all, which Postgres refuses in text and jsonb) are a 400, not a 500. */
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    .regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/, 'must not contain control characters');
const STATUSES = ['OPEN', 'ASSIGNED', 'IN_PROGRESS', 'RESOLVED', 'CLOSED'] as const;

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
const listQuery = z.strictObject({
  status: z.enum(STATUSES).optional(),
  priority: z.enum(COMPLAINT_PRIORITIES).optional(),
  customerId: z.uuid().optional(),
  orderId: z.uuid().optional(),
  assignee: text(200).optional(),
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const idParams = z.object({ id: pathId() });

const complaintSchema = z
  .object({
    id: z.uuid(),
    customerId: z.uuid(),
    orderId: z.uuid().optional(),
    shipmentId: z.uuid().optional(),
    incidentId: z.uuid().optional(),
    title: z.string(),
    description: z.string(),
    priority: z.enum(COMPLAINT_PRIORITIES),
    category: z.string(),
    automatic: z.boolean().meta({ description: 'Opened by a LOST or DAMAGED parcel incident, not by a person.' }),
    status: z.enum(STATUSES),
    deadlineAt: z.string().meta({ description: 'When it escalates if still unassigned or unresolved.' }),
    assignee: z.string().optional(),
    resolution: z.string().optional(),
    refundCents: z.number().int().optional(),
    refundId: z.uuid().optional(),
    escalation: z.enum(['UNASSIGNED', 'UNRESOLVED']).optional(),
    correlationId: z.uuid(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ description: 'A complaint as the desk sees it.' });
const detailSchema = complaintSchema
  .extend({
    refunds: z.array(
      z.object({
        refundId: z.uuid(),
        amountCents: z.number().int(),
        reason: z.string(),
        status: z.enum(['REQUESTED', 'REFUNDED', 'REJECTED']),
        rejectionReason: z.string().optional(),
        incidentId: z.uuid().optional(),
        requestedAt: z.string(),
        answeredAt: z.string().optional(),
      }),
    ),
    timeline: z.array(z.object({ eventId: z.uuid(), type: z.string(), occurredAt: z.string(), actor: z.string(), data: z.unknown() })),
  })
  .meta({ description: 'A complaint, the refunds it (or its incident) asked for, and its timeline.' });
const pageSchema = z.object({ complaints: z.array(complaintSchema), next: z.string().nullable() });

const STAFF = ['agent', 'admin'] as const;
const EVERYONE = ['customer', 'agent', 'admin'] as const;
const OWN = 'A customer opens and reads only their own complaints (403 otherwise).';

/** A customer reaches only their own complaints (403); one that does not exist is a 404 for everyone. */
/**
 * A customer may name only their own order and parcel. Support keeps no copy of either: the owning service answers
 * with the caller's own token (403 for another customer's, 404 for none), so its rules decide, not a second copy here.
 */
async function assertReferencesOwned(env: NodeJS.ProcessEnv, principal: Principal, body: { orderId?: string; shipmentId?: string }) {
  if (principal.role !== 'customer') return;
  const references = [
    ...(body.orderId
      ? [{ field: 'orderId', what: `order ${body.orderId}`, url: `${env.ORDER_URL ?? 'http://127.0.0.1:8081'}/api/orders/${body.orderId}` }]
      : []),
    ...(body.shipmentId
      ? [
          {
            field: 'shipmentId',
            what: `parcel ${body.shipmentId}`,
            url: `${env.SHIPPING_URL ?? 'http://127.0.0.1:8086'}/api/shipments/${body.shipmentId}`,
          },
        ]
      : []),
  ];
  for (const { field, what, url } of references) {
    const response = await fetch(url, { headers: { authorization: `Bearer ${principal.token}` }, signal: AbortSignal.timeout(5000) }).catch(
      (error: unknown) => {
        throw new UpstreamError(`${what} could not be checked`, { cause: error });
      },
    );
    await response.body?.cancel();
    if (response.status === 403) throw new ForbiddenError(`${what} is not yours`);
    if (response.status === 404) throw new UnprocessableError(`${what} does not exist`, [{ field, reason: 'unknown' }]);
    if (!response.ok) throw new UpstreamError(`${what} could not be checked (${response.status})`);
  }
}

function visibleTo(principal: Principal, complaint: StoredComplaint | undefined, id: string): StoredComplaint {
  if (!complaint) throw new NotFoundError(`complaint ${id} does not exist`);
  assertOwner(principal, complaint.customerId, `complaint ${id}`);
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

export function complaintRoutes(deps: ServiceDeps & { deadlines: ResponseDeadlines }): Routes {
  const { db } = deps;

  /** One desk step, by an agent or admin: the command on a complaint that exists; a refused transition is a 409. */
  async function step(c: Context, principal: Principal, id: string, wanted: ComplaintCommand) {
    const meta = requestMetadata(deps, c.get('requestId'), actorOf(principal));
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
      // The refund saga starts here: caused by the resolution, in the same transaction, so both exist or neither.
      const refund = await runCommand(
        tx,
        refunds,
        {
          id: resolved.data.refundId,
          command: {
            type: 'RequestRefund',
            refundId: resolved.data.refundId,
            orderId: state.orderId,
            customerId: state.customerId,
            amountCents: resolved.data.refundCents,
            reason: REFUND_REASONS.complaint,
            complaintId: id,
            shipmentId: state.shipmentId ?? undefined,
            incidentId: state.incidentId ?? undefined,
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

  const stepRoute = (path: string, summary: string, problems: Partial<Record<404 | 409 | 422, string>>) => ({
    method: 'post' as const,
    path: `/api/complaints/:id/${path}`,
    summary,
    tags: ['complaints'],
    roles: STAFF,
    params: idParams,
    responses: { 200: { description: 'The complaint after the step, with its refunds and timeline', schema: detailSchema } },
    problems: { 404: 'no such complaint', 409: 'the complaint is not in a state that allows this step', ...problems },
  });

  return routes()
    .add({
      method: 'post',
      path: '/api/complaints',
      summary: 'Open a complaint',
      description: 'It escalates (ComplaintEscalated) if still unassigned or unresolved when the response deadline of its priority passes.',
      tags: ['complaints'],
      roles: EVERYONE,
      ownership: OWN,
      body: openBody,
      responses: { 201: { description: 'The complaint, OPEN', schema: complaintSchema } },
      problems: {
        422: 'a customer named an order or parcel that does not exist',
        502: 'the order or parcel could not be checked',
      },
      handler: async (c, { body, principal }) => {
        assertOwner(principal, body.customerId, 'a complaint for this customer');
        await assertReferencesOwned(deps.env, principal, body);
        const complaintId = deps.newId();
        const command: ComplaintCommand = {
          type: 'OpenComplaint',
          complaintId,
          ...body,
          automatic: false,
          deadlineAt: deadlineAt(deps.now(), body.priority, deps.deadlines),
        };
        const { events } = await handleCommand(
          db,
          complaints,
          { id: complaintId, command, meta: requestMetadata(deps, c.get('requestId'), actorOf(principal)) },
          deps,
        );
        recordSupportEvents(events);
        const created = await findComplaint(db, complaintId);
        if (!created) throw new Error('unreachable: an opened complaint exists');
        return c.json(complaintView(created), 201);
      },
    })
    .add({
      method: 'get',
      path: '/api/complaints',
      summary: 'Complaints by status, priority, customer, order or assignee, a page at a time',
      tags: ['complaints'],
      roles: EVERYONE,
      ownership: 'A customer lists only their own complaints (another customerId is a 403).',
      query: listQuery,
      responses: { 200: { description: 'A page of complaints, oldest first; `next` is the cursor of the next page', schema: pageSchema } },
      handler: async (c, { query, principal }) => {
        if (query.customerId) assertOwner(principal, query.customerId, 'the complaints of this customer');
        const customerId = principal.role === 'customer' ? principal.subject : query.customerId;
        const after = query.after ? decodeCursor(query.after) : undefined;
        const rows = await listComplaints(db, { ...query, customerId, after });
        const page = rows.slice(0, query.limit);
        const last = page[page.length - 1];
        return c.json({ complaints: page.map(complaintView), next: rows.length > query.limit && last ? encodeCursor(last.id) : null });
      },
    })
    .add({
      method: 'get',
      path: '/api/complaints/:id',
      summary: 'A complaint, its refunds and its timeline',
      tags: ['complaints'],
      roles: EVERYONE,
      ownership: OWN,
      params: idParams,
      responses: { 200: { description: 'The complaint', schema: detailSchema } },
      problems: { 404: 'no such complaint' },
      handler: async (c, { params, principal }) => {
        const complaint = visibleTo(principal, await findComplaint(db, params.id), params.id);
        return c.json(await complaintDetail(db, complaint));
      },
    })
    .add({
      ...stepRoute('assign', 'Assign (or reassign, until work starts) a complaint to an agent', {}),
      body: assignBody,
      handler: (c, { params, body, principal }) => step(c, principal, params.id, { type: 'AssignComplaint', agent: body.agent }),
    })
    .add({
      ...stepRoute('start', 'Start working on an assigned complaint', {}),
      handler: (c, { params, principal }) => step(c, principal, params.id, { type: 'StartProcessing' }),
    })
    .add({
      ...stepRoute('resolve', 'Resolve a complaint in progress; refundCents asks payment for a refund of its order (RefundRequested)', {
        422: 'a refund for a complaint that names no order',
      }),
      body: resolveBody,
      handler: (c, { params, body, principal }) =>
        step(c, principal, params.id, {
          type: 'ResolveComplaint',
          resolution: body.resolution,
          ...(body.refundCents !== undefined ? { refundCents: body.refundCents, refundId: deps.newId() } : {}),
        }),
    })
    .add({
      ...stepRoute('close', 'Close a resolved complaint', {}),
      handler: (c, { params, principal }) => step(c, principal, params.id, { type: 'CloseComplaint' }),
    });
}

/** A desk step continues the complaint's own saga (its correlation), so the timeline of one complaint is one saga. */
function correlationOf(state: unknown, fallback: string): string {
  return (state as Partial<StoredComplaint>).correlationId ?? fallback;
}
