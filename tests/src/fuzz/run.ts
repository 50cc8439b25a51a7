import fc from 'fast-check';
import {
  type Answer,
  AUTH_MODES,
  describeRequest,
  type FuzzRequest,
  type FuzzWorld,
  type Operation,
  requestArbitrary,
  verdict,
} from './fuzzer.js';

export type Failure = { index: number; reason: string; request: string; status: number; answer: string; state?: string };

export type FuzzReport = {
  seed: number;
  /** FUZZ_RUNS: the random requests after the sweep (with the seed, what replays the sequence). */
  runs: number;
  requests: number;
  durationMs: number;
  byClass: Record<string, number>;
  byStatus: Record<string, number>;
  byAuth: Record<string, number>;
  operations: number;
  operationsCovered: number;
  failures: Failure[];
};

export type FuzzOptions = {
  baseUrl: string;
  operations: Operation[];
  world: FuzzWorld;
  seed: number;
  /** Random requests after the sweep (each operation once per kind of credentials). */
  runs: number;
  /** Only this request of the sequence (FUZZ_REPLAY): the one a failure named. */
  replay?: number;
  /** A fingerprint of the system's state: equal before and after a request that changed nothing. */
  snapshot: () => Promise<string>;
  /** Waits until what an accepted request set off (reactions, projections) is done. */
  settle: () => Promise<void>;
};

/**
 * The sequence of requests for a seed: a sweep (every operation with every kind of credentials, so each is covered
 * whatever the run's length), then `runs` requests of random operations. The same seed gives the same sequence.
 */
export function sequence(options: Pick<FuzzOptions, 'operations' | 'world' | 'seed' | 'runs'>): FuzzRequest[] {
  const { operations, world, seed } = options;
  const sweep = fc.tuple(...operations.flatMap((operation) => AUTH_MODES.map((auth) => requestArbitrary(operation, world, auth))));
  const [swept] = fc.sample(sweep, { seed, numRuns: 1 });
  const random = fc.oneof(...operations.map((operation) => requestArbitrary(operation, world)));
  const rest = options.runs > 0 ? fc.sample(random, { seed: seed + 1, numRuns: options.runs }) : [];
  return [...(swept ?? []), ...rest];
}

async function firstChunk(response: Response): Promise<string> {
  const reader = response.body!.getReader();
  const { value } = await reader.read();
  await reader.cancel();
  return new TextDecoder().decode(value);
}

async function send(baseUrl: string, request: FuzzRequest): Promise<Answer> {
  const response = await fetch(`${baseUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body !== undefined ? { body: request.body } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  // An event stream never ends: its first chunk is the answer.
  if (response.headers.get('content-type')?.startsWith('text/event-stream'))
    return { status: response.status, body: await firstChunk(response) };
  return { status: response.status, body: await response.text() };
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const requests = sequence(options);
  const byOperation = new Map(options.operations.map((operation) => [`${operation.method} ${operation.path}`, operation]));
  const report: FuzzReport = {
    seed: options.seed,
    runs: options.runs,
    requests: 0,
    durationMs: 0,
    byClass: {},
    byStatus: {},
    byAuth: {},
    operations: options.operations.length,
    operationsCovered: 0,
    failures: [],
  };
  const covered = new Set<string>();
  const started = performance.now();
  for (const [index, request] of requests.entries()) {
    if (options.replay !== undefined && index !== options.replay) continue;
    const operation = byOperation.get(request.operation)!;
    const before = await options.snapshot();
    let answer: Answer;
    try {
      answer = await send(options.baseUrl, request);
    } catch (error) {
      answer = { status: 599, body: `no answer: ${(error as Error).message}` };
    }
    const refused = answer.status >= 400 && answer.status < 500;
    const after = refused ? await options.snapshot() : before;
    const changed = after !== before;
    report.requests += 1;
    covered.add(request.operation);
    bump(report.byClass, `${Math.floor(answer.status / 100)}xx`);
    bump(report.byStatus, String(answer.status));
    bump(report.byAuth, request.auth);
    const reason = verdict(operation, request, answer, changed, options.world.owned);
    if (reason) {
      report.failures.push({
        index,
        reason,
        request: describeRequest(request),
        status: answer.status,
        answer: answer.body.slice(0, 400),
        ...(changed ? { state: `${before} -> ${after}` } : {}),
      });
    }
    // An accepted change sets reactions off: they are waited for, so the next request starts from a still system.
    if (answer.status < 400 && request.method !== 'GET') await options.settle();
  }
  report.durationMs = Math.round(performance.now() - started);
  report.operationsCovered = covered.size;
  return report;
}

/** The report as the test prints it; each failure with what reproduces it. */
export function formatReport(report: FuzzReport): string {
  const lines = [
    `fuzz: seed ${report.seed}, ${report.requests} requests in ${(report.durationMs / 1000).toFixed(1)} s (${Math.round(report.requests / (report.durationMs / 1000))}/s), ${report.operationsCovered}/${report.operations} operations`,
    `  by class: ${JSON.stringify(report.byClass)}`,
    `  by status: ${JSON.stringify(report.byStatus)}`,
    `  by credentials: ${JSON.stringify(report.byAuth)}`,
    `  failures: ${report.failures.length}`,
  ];
  for (const failure of report.failures.slice(0, 30)) {
    lines.push(`  #${failure.index} ${failure.reason}: ${failure.request}`);
    lines.push(`      answer: ${failure.answer.replace(/\s+/g, ' ')}`);
    if (failure.state) lines.push(`      state (changes/mirrored/events seq/events/dlq seq/dlq): ${failure.state}`);
    lines.push(`      replay: FUZZ_SEED=${report.seed} FUZZ_RUNS=${report.runs} FUZZ_REPLAY=${failure.index} npm run test:fuzz`);
  }
  return lines.join('\n');
}
