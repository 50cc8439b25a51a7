import type { ApiToken } from './api-token.js';
import { REASONS } from './constants.js';
import type { StepOutcome } from './jetstream.js';
import type { ProjectionFigures, ProjectionSpec } from './resources.js';

/**
 * The event store's projection API, as the operator uses it:
 *   GET  /api/projections               -> [{ name, version, position, lag, state }] (a rebuild shows as a second
 *                                          entry of the same name at the new version, beside the live one)
 *   POST /api/projections/:name/rebuild -> body { version }; 202 accepted, 409 when that rebuild already runs
 */
export type ProjectionReport = { name: string; version: number; position: number; lag: number; state: string };

export class EventStoreError extends Error {
  override readonly name = 'EventStoreError';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export type EventStoreClient = {
  list(): Promise<ProjectionReport[]>;
  rebuild(name: string, version: number): Promise<void>;
};

/** `token`: the operator's credential; the event store verifies bearer tokens on /api like every service. */
export function httpEventStore(baseUrl: string, timeoutMs = 5000, token: ApiToken = async () => undefined): EventStoreClient {
  const url = (path: string) => new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
  const authorization = async (): Promise<Record<string, string>> => {
    const bearer = await token().catch((error: unknown) => {
      throw new EventStoreError('no credential for the event store', undefined, { cause: error });
    });
    return bearer ? { authorization: `Bearer ${bearer}` } : {};
  };
  return {
    async list() {
      const headers = await authorization();
      const response = await fetch(url('api/projections'), { headers, signal: AbortSignal.timeout(timeoutMs) }).catch((error: unknown) => {
        throw new EventStoreError(`event store at ${baseUrl} did not answer`, undefined, { cause: error });
      });
      if (!response.ok) throw new EventStoreError(`GET /api/projections answered ${response.status}`, response.status);
      const body = (await response.json()) as ProjectionReport[] | { items?: ProjectionReport[]; projections?: ProjectionReport[] };
      return Array.isArray(body) ? body : (body.items ?? body.projections ?? []);
    },
    async rebuild(name, version) {
      const response = await fetch(url(`api/projections/${encodeURIComponent(name)}/rebuild`), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await authorization()) },
        body: JSON.stringify({ version }),
        signal: AbortSignal.timeout(timeoutMs),
      }).catch((error: unknown) => {
        throw new EventStoreError(`event store at ${baseUrl} did not answer`, undefined, { cause: error });
      });
      // 409: that rebuild is already running, which is what this call wanted.
      if (!response.ok && response.status !== 409) {
        const detail = await response.text().catch(() => '');
        throw new EventStoreError(`POST rebuild of ${name} to v${version} answered ${response.status} ${detail}`.trim(), response.status);
      }
    },
  };
}

const LIVE = /^(live|ready|active|caught[-_ ]?up|running)$/i;
const FAILED = /fail|error/i;

/**
 * One step for a Projection: the event store is told to rebuild when no live or building entry has the declared
 * version, and progress (position, lag) is reported until the new version is live. Blue-green happens inside the
 * event store; the operator only asks and watches.
 */
export async function reconcileProjection(
  store: EventStoreClient,
  name: string,
  spec: ProjectionSpec,
): Promise<StepOutcome<ProjectionFigures>> {
  try {
    const reports = (await store.list()).filter((report) => report.name === name);
    const live = reports.find((report) => LIVE.test(report.state));
    const target = reports.find((report) => report.version === spec.version);
    const figures: ProjectionFigures = { activeVersion: live?.version };
    if (target && LIVE.test(target.state)) {
      return {
        action: 'none',
        condition: { status: 'True', reason: REASONS.Live, message: `${name} v${spec.version} is live (lag ${target.lag})` },
        figures: { ...figures, state: target.state, position: target.position, lag: target.lag },
        requeue: 'later',
      };
    }
    if (target && FAILED.test(target.state)) {
      return {
        action: 'blocked',
        condition: { status: 'False', reason: REASONS.RebuildFailed, message: `rebuild of ${name} to v${spec.version} failed` },
        figures: { ...figures, rebuildVersion: spec.version, state: target.state, position: target.position, lag: target.lag },
        requeue: 'backoff',
      };
    }
    if (target) {
      const message = `rebuilding ${name} to v${spec.version}: position ${target.position}, lag ${target.lag}`;
      return {
        action: 'none',
        condition: { status: 'False', reason: REASONS.Rebuilding, message },
        figures: { ...figures, rebuildVersion: spec.version, state: target.state, position: target.position, lag: target.lag },
        requeue: 'now',
      };
    }
    await store.rebuild(name, spec.version);
    return {
      action: 'updated',
      condition: { status: 'False', reason: REASONS.Rebuilding, message: `rebuild of ${name} to v${spec.version} requested` },
      figures: { ...figures, rebuildVersion: spec.version, state: 'requested' },
      requeue: 'now',
    };
  } catch (error) {
    const status = error instanceof EventStoreError ? error.status : undefined;
    const reason = status && status >= 400 && status < 500 ? REASONS.Rejected : REASONS.Unreachable;
    return {
      action: 'blocked',
      condition: { status: 'False', reason, message: error instanceof Error ? error.message : String(error) },
      requeue: 'backoff',
    };
  }
}
