import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type Say = (message: string) => void;

/** Where tools and images are cached: JETSAGA_CACHE_DIR, else `~/.cache/jetsaga` (XDG_CACHE_HOME respected). */
export function cacheDir(): string {
  return process.env.JETSAGA_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jetsaga');
}

/** A tool could not be built or installed (Go or a build step failed); the message carries the end of its output. */
export class ToolBuildError extends Error {
  override readonly name = 'ToolBuildError';
}

/** `<cache>/tools/<name>-<version>`: one directory per tool and version, shared by every tool build of the repo. */
export function toolDir(name: string, version: string): string {
  return join(cacheDir(), 'tools', `${name}-${version}`);
}

/** Runs a command to its end; resolves with its stdout, rejects with the end of its stderr. */
export function runTool(bin: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
    child.once('error', (error) => reject(new ToolBuildError(`${bin} could not be started`, { cause: error })));
    child.once('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new ToolBuildError(`${bin} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-4000)}`)),
    );
  });
}

/** `go <args>` with CGO off unless `env` says otherwise: the binaries run in scratch images too. */
export function go(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return runTool('go', args, { cwd: options.cwd, env: { CGO_ENABLED: '0', ...options.env } });
}

export type CachedToolOptions = {
  name: string;
  version: string;
  /** The file the build leaves in its staging directory (default: `name`). */
  bin?: string;
  say?: Say;
  /** How long a first build takes, for the message printed before it. */
  expected: string;
  build(staging: string): Promise<void>;
};

/**
 * Returns `<cache>/tools/<name>-<version>/<bin>`, building it first into a staging directory that is renamed into
 * place, so an interrupted or concurrent build never leaves a half-written binary behind. The build's duration is
 * recorded beside the binary (`build.json`): the docs quote first-run costs from it.
 */
export async function cachedTool(options: CachedToolOptions): Promise<string> {
  const { name, version } = options;
  const bin = options.bin ?? name;
  const say = options.say ?? (() => undefined);
  const dir = toolDir(name, version);
  const target = join(dir, bin);
  if (existsSync(target)) return target;
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.build-'));
  const started = Date.now();
  say(`building ${name} ${version} into ${dir} (once per machine, ${options.expected})`);
  try {
    await options.build(staging);
    await rename(join(staging, bin), target).catch((error: unknown) => {
      // Another build of the same version finished first: its binary is as good.
      if (!existsSync(target)) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  await writeFile(join(dir, 'build.json'), JSON.stringify({ name, version, seconds, builtAt: new Date().toISOString() }) + '\n');
  say(`built ${name} ${version} in ${seconds} s`);
  return target;
}

export type GoModuleSpec = {
  /** The module path of the throwaway module (default jetsaga.local/tools). */
  module?: string;
  /** `require` lines: `<module> <version>`. */
  requires: string[];
  /** Packages imported from tools.go, so that `go mod tidy` records everything they need. */
  imports: string[];
  /** Whole `replace ...` lines. */
  replaces?: string[];
  /** Arguments of the `go mod tidy` run (e.g. `-e`) and its environment. */
  tidy?: { args?: string[]; env?: NodeJS.ProcessEnv };
};

/**
 * A throwaway module in `dir` that requires and imports the tools to build, tidied and ready for `go build`. It is
 * how modules that `go install` refuses (replace lines in their go.mod) get built.
 */
export async function goToolModule(dir: string, spec: GoModuleSpec): Promise<void> {
  await mkdir(dir, { recursive: true });
  const goMod = [
    `module ${spec.module ?? 'jetsaga.local/tools'}`,
    '',
    'go 1.24',
    '',
    ...spec.requires.map((line) => `require ${line}`),
    '',
    ...(spec.replaces ?? []),
    '',
  ];
  await writeFile(join(dir, 'go.mod'), goMod.join('\n'));
  const tools = ['//go:build tools', '', 'package tools', '', 'import (', ...spec.imports.map((path) => `\t_ "${path}"`), ')', ''];
  await writeFile(join(dir, 'tools.go'), tools.join('\n'));
  await go(['mod', 'tidy', ...(spec.tidy?.args ?? [])], { cwd: dir, env: spec.tidy?.env });
}

/** What `bin args` printed (stdout and stderr), or undefined when it cannot run: how a tool on PATH is recognised. */
export async function toolOutput(bin: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await execFileAsync(bin, args, { timeout: 20_000 });
    return stdout + stderr;
  } catch {
    return undefined;
  }
}

/** The first `x.y.z` in a tool's version output. */
export function semver(output: string | undefined): string | undefined {
  return output ? /v?(\d+\.\d+\.\d+)/.exec(output)?.[1] : undefined;
}

/** The version a tool reports (`bin args`), or undefined when it is missing. */
export async function toolVersion(bin: string, args: string[]): Promise<string | undefined> {
  return semver(await toolOutput(bin, args));
}

export type GoInstallOptions = Omit<CachedToolOptions, 'build'> & {
  /** The package to `go install`, without the version. */
  pkg: string;
  /** `-ldflags` for the build (a version stamp, say). */
  ldflags?: string;
};

/** A tool that `go install <pkg>@v<version>` builds, cached as cachedTool does. */
export function goInstalled(options: GoInstallOptions): Promise<string> {
  const { pkg, ldflags, ...tool } = options;
  return cachedTool({
    ...tool,
    build: async (staging) => {
      await go(['install', ...(ldflags ? ['-ldflags', ldflags] : []), `${pkg}@v${options.version}`], { env: { GOBIN: staging } });
    },
  });
}
