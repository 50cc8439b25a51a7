import { join } from 'node:path';
import { cachedTool, go, goInstalled, goToolModule, toolVersion } from './go-build.js';
import { compareVersions, type Say } from './tools.js';

/** The load driver and the NATS command line the benchmark uses (bench/README.md says how they are built and cached). */
export const K6_VERSION = '1.8.1';
export const NATSCLI_VERSION = '0.4.0';
/** The Temporal CLI, whose development server runs the benchmark's Temporal peer (Temporal Server 1.29.1 inside). */
export const TEMPORAL_CLI_VERSION = '1.5.1';

/** k6: K6_BIN, else a k6 on PATH of the pinned minor version, else the pinned version built with Go (about 50 s). */
export async function ensureK6(say: Say = () => undefined): Promise<string> {
  if (process.env.K6_BIN) return process.env.K6_BIN;
  const onPath = await toolVersion('k6', ['version']);
  if (onPath && compareVersions(onPath, K6_VERSION) >= 0 && onPath.split('.')[0] === K6_VERSION.split('.')[0]) return 'k6';
  return goInstalled({ name: 'k6', version: K6_VERSION, pkg: 'go.k6.io/k6', say, expected: 'about 1 min' });
}

/**
 * natscli (`nats bench`): NATS_CLI_BIN, else the pinned version built with Go (about 30 s). `go install` of the module
 * is refused by the module proxy here, so it is built from a throwaway module that requires it.
 */
export async function ensureNatsCli(say: Say = () => undefined): Promise<string> {
  if (process.env.NATS_CLI_BIN) return process.env.NATS_CLI_BIN;
  return cachedTool({
    name: 'natscli',
    version: NATSCLI_VERSION,
    bin: 'nats',
    say,
    expected: 'about 30 s',
    build: async (staging) => {
      await goToolModule(staging, {
        module: 'jetsaga.local/natscli-build',
        requires: [`github.com/nats-io/natscli v${NATSCLI_VERSION}`],
        imports: ['github.com/nats-io/natscli/nats'],
      });
      await go(['build', '-o', join(staging, 'nats'), 'github.com/nats-io/natscli/nats'], { cwd: staging });
    },
  });
}

/**
 * Temporal CLI (`temporal server start-dev`, the benchmark's Temporal peer): TEMPORAL_CLI_BIN, else a `temporal` on
 * PATH of the pinned major version and at least the pinned one, else the pinned version built with Go (about 5 min
 * cold). The build stamps its version (a plain `go install` reports 0.0.0-DEV).
 */
export async function ensureTemporalCli(say: Say = () => undefined): Promise<string> {
  if (process.env.TEMPORAL_CLI_BIN) return process.env.TEMPORAL_CLI_BIN;
  const onPath = await toolVersion('temporal', ['--version']);
  const [major] = TEMPORAL_CLI_VERSION.split('.');
  if (onPath && compareVersions(onPath, TEMPORAL_CLI_VERSION) >= 0 && onPath.split('.')[0] === major) return 'temporal';
  return goInstalled({
    name: 'temporal',
    version: TEMPORAL_CLI_VERSION,
    pkg: 'github.com/temporalio/cli/cmd/temporal',
    ldflags: `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
    say,
    expected: 'about 5 min',
  });
}
