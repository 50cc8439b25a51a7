import { goInstalled, type Say, semver, ToolBuildError, toolVersion } from './go-build.js';

export { cacheDir, type Say } from './go-build.js';

export const NATS_SERVER_VERSION = '2.15.2';
/**
 * What the code needs: message schedules (saga deadlines) came in 2.12, and purging a deadline's schedule when its saga
 * ends needs 2.14 (docs/adr/0004-saga-deadlines.md). An older server is refused.
 */
export const NATS_SERVER_MINIMUM = '2.14.0';

/** Refuses a nats-server older than NATS_SERVER_MINIMUM, naming where it came from. */
export function checkNatsServerVersion(version: string, source: string): void {
  if (compareVersions(version, NATS_SERVER_MINIMUM) < 0) {
    throw new Error(
      `${source} is nats-server ${version}; jetsaga needs ${NATS_SERVER_MINIMUM} or newer (purging a deadline's schedule, docs/adr/0004-saga-deadlines.md)`,
    );
  }
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const pb = b.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

export function parseNatsServerVersion(output: string): string | undefined {
  return semver(output);
}

/**
 * Finds a nats-server: NATS_SERVER_BIN (refused when older than NATS_SERVER_MINIMUM), else one on PATH that is new
 * enough (an older one is passed over, with a word), else the pinned version from the cache, else builds the pinned
 * version with Go into the cache (about 30 s, once per machine).
 */
export async function ensureNatsServer(say: Say = () => undefined): Promise<string> {
  const given = process.env.NATS_SERVER_BIN;
  if (given) {
    const version = await toolVersion(given, ['--version']);
    if (version) checkNatsServerVersion(version, `NATS_SERVER_BIN (${given})`);
    return given;
  }
  const onPath = await toolVersion('nats-server', ['--version']);
  if (onPath && compareVersions(onPath, NATS_SERVER_MINIMUM) >= 0) return 'nats-server';
  if (onPath) say(`nats-server ${onPath} on PATH is older than ${NATS_SERVER_MINIMUM}: using the pinned v${NATS_SERVER_VERSION}`);
  return goInstalled({
    name: 'nats-server',
    version: NATS_SERVER_VERSION,
    pkg: 'github.com/nats-io/nats-server/v2',
    say,
    expected: 'about 30 s',
  }).catch((error: unknown) => {
    // No Go at all: say what else would do.
    if (error instanceof ToolBuildError && error.cause) {
      throw new ToolBuildError(`Go is needed to build nats-server (or put nats-server >= ${NATS_SERVER_MINIMUM} on PATH)`, {
        cause: error,
      });
    }
    throw error;
  });
}
