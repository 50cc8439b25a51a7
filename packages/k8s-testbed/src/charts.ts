import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  databaseRolesManifest,
  databaseRolesSql,
  loadTopologyConsumers,
  natsAuthorizationConfig,
  natsUsers,
  passwordVariable,
  type Say,
} from '@jetsaga/devstack';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Service charts in dependency order: each needs the library; the umbrella needs all of them. */
export const SERVICE_CHARTS = [
  'order',
  'inventory',
  'payment',
  'sales',
  'support',
  'shipping',
  'notification',
  'audit',
  'event-store',
  'gateway',
  'operator',
] as const;
export const UMBRELLA_CHART = 'jetsaga';
export const ALL_CHARTS = ['jetsaga-lib', ...SERVICE_CHARTS, UMBRELLA_CHART] as const;

export type PreparedCharts = { dir: string; chart(name: (typeof ALL_CHARTS)[number]): string };

async function copyMatching(from: string, to: string, keep: (file: string) => boolean): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !keep(entry.name)) continue;
    const source = join(entry.parentPath, entry.name);
    const target = join(to, relative(from, source));
    await mkdir(join(target, '..'), { recursive: true });
    await cp(source, target);
  }
}

/**
 * The NATS users and their permissions, derived from k8s/topology as for `npm start` and the tests
 * (packages/devstack/src/nats-auth.ts): the servers' `authorization` block, each password a `$NATS_PASSWORD_<USER>`
 * the StatefulSet sets from the users' Secret, and the list of users the chart makes that Secret's keys of.
 */
export async function writeNatsAuthorization(topologyDir: string, target: string): Promise<void> {
  const users = natsUsers(await loadTopologyConsumers(topologyDir));
  await mkdir(target, { recursive: true });
  await writeFile(
    join(target, 'authorization.conf'),
    natsAuthorizationConfig(users, (user) => `$${passwordVariable(user)}`),
  );
  const list = users.map((user) => ({ user: user.user, variable: passwordVariable(user.user) }));
  await writeFile(join(target, 'users.json'), `${JSON.stringify(list, null, 2)}\n`);
}

/**
 * The per-service database roles as `npm start` and the tests make them (packages/devstack/src/database-roles.ts):
 * the script the in-chart Postgres runs, and the roles, schemas and password variables the chart makes Secrets of.
 */
export async function writeDatabaseRoles(target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  await writeFile(join(target, 'roles.sql'), databaseRolesSql());
  await writeFile(join(target, 'roles.json'), `${JSON.stringify(databaseRolesManifest(), null, 2)}\n`);
}

/**
 * Makes charts installable: copies k8s/topology and observability/ into the umbrella chart (Helm reads files only
 * from inside a chart) and runs `helm dependency build` bottom-up (file:// dependencies, no repository needed).
 * With `target`, works on a copy there, so tests never write into the working tree.
 */
export async function prepareCharts(options: { helm: string; target?: string; repo?: string; say?: Say }): Promise<PreparedCharts> {
  const repo = options.repo ?? REPO;
  const dir = options.target ?? join(repo, 'charts');
  if (options.target) {
    await rm(dir, { recursive: true, force: true });
    await cp(join(repo, 'charts'), dir, {
      recursive: true,
      filter: (source) => !/\/charts\/[^/]+\/(charts|files\/generated)(\/|$)/.test(source) && !source.endsWith('Chart.lock'),
    });
  }
  const generated = join(dir, UMBRELLA_CHART, 'files', 'generated');
  await rm(generated, { recursive: true, force: true });
  await copyMatching(join(repo, 'k8s', 'topology'), join(generated, 'topology'), (file) => /\.ya?ml$/.test(file));
  await copyMatching(join(repo, 'observability'), join(generated, 'observability'), (file) => /\.(json|ya?ml)$/.test(file));
  await writeNatsAuthorization(join(repo, 'k8s', 'topology'), join(generated, 'nats'));
  await writeDatabaseRoles(join(generated, 'postgres'));
  for (const chart of [...SERVICE_CHARTS, UMBRELLA_CHART]) {
    options.say?.(`helm dependency build charts/${chart}`);
    await run(options.helm, ['dependency', 'build', '--skip-refresh', join(dir, chart)], { timeout: 120_000 });
  }
  return { dir, chart: (name) => join(dir, name) };
}
