// Summaries of the V8 CPU profiles (`node --cpu-prof`) the services write when they exit: self time per function and
// per package, as a share of the time the process was not idle. The .cpuprofile files open in Chrome DevTools or
// speedscope as flame graphs.
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { round } from './processes.mjs';

function where(url) {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) return path.slice(modules + 'node_modules/'.length);
  const repo = path.search(/\/(services|packages)\//);
  return repo >= 0 ? path.slice(repo + 1) : path;
}

function packageOf(url) {
  if (!url) return '(native or V8)';
  if (url.startsWith('node:')) return 'node';
  const path = url.replace(/^file:\/\//, '');
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path.slice(path.lastIndexOf('node_modules/')));
  if (path.includes('node_modules/') && match) return match[1];
  const own = /\/(services|packages)\/([^/]+)\//.exec(path);
  return own ? `${own[1]}/${own[2]}` : path;
}

export function summarizeProfile(profile, top = 15) {
  const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
  const selfUs = new Map();
  for (const node of profile.nodes) selfUs.set(node.id, (node.hitCount ?? 0) * interval);
  let busy = 0;
  const byFunction = new Map();
  const byPackage = new Map();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const us = selfUs.get(node.id) ?? 0;
    if (functionName === '(idle)' || us === 0) continue;
    busy += us;
    const key = `${functionName || '(anonymous)'} ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const pkg = ['(garbage collector)', '(program)'].includes(functionName) ? functionName : packageOf(url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const ranked = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), percent: round((us / busy) * 100, 1) }));
  return {
    wallSeconds: round((profile.endTime - profile.startTime) / 1e6, 1),
    busySeconds: round(busy / 1e6, 1),
    functions: ranked(byFunction),
    packages: ranked(byPackage),
  };
}

/**
 * `pids` maps each process id to its service name (the profile files are named after the pid); each profile is kept
 * as `<keepIn>/<service>.cpuprofile`.
 */
export async function summarizeProfiles(dir, pids, keepIn) {
  const summaries = {};
  await mkdir(keepIn, { recursive: true });
  for (const file of await readdir(dir)) {
    const pid = /\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1];
    const name = pids[pid] ?? `pid-${pid}`;
    summaries[name] = summarizeProfile(JSON.parse(await readFile(join(dir, file), 'utf8')));
    await copyFile(join(dir, file), join(keepIn, `${name}.cpuprofile`));
    summaries[name].file = `profiles/${name}.cpuprofile`;
  }
  return summaries;
}
