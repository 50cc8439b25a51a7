import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configFields, connectNats, createLogger, loadConfig } from '@jetsaga/platform';
import { z } from 'zod';
import { backupEvents, type EventsBackup, restoreEvents } from './events.js';
import { backupPostgres, type PostgresBackup, restorePostgres } from './postgres.js';

/**
 * The chart's backup CronJob and its restore Job (charts/jetsaga/templates/backup.yaml; docs/operations.md):
 *
 *   node services/event-store/dist/backup/main.js backup          a new backup in BACKUP_DIR, then the oldest beyond
 *                                                                  BACKUP_KEEP removed
 *   node services/event-store/dist/backup/main.js restore [name]   the newest complete backup (or the one named) into
 *                                                                  an empty database and an empty new EVENTS stream
 *   node services/event-store/dist/backup/main.js list
 *
 * A backup is a directory <UTC time>/ with postgres.jsonl.gz, events.jsonl.gz and manifest.json; the manifest is
 * written last, so a directory without one (a run that failed) is never restored, and is removed by the next run.
 */
const config = loadConfig(
  z.object({
    BACKUP_DIR: z.string().min(1).default('/backup'),
    BACKUP_KEEP: z.coerce.number().int().min(1).default(7),
    DATABASE_URL: z.string().min(1),
    NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
    NATS_USER: z.string().min(1).optional(),
    NATS_PASSWORD: z.string().min(1).optional(),
    NATS_TLS_CA: z.string().min(1).optional(),
    LOG_LEVEL: configFields.logLevel(),
  }),
);
const log = createLogger('backup', config.LOG_LEVEL);

type Manifest = {
  format: 'jetsaga-backup/1';
  name: string;
  startedAt: string;
  finishedAt: string;
  postgres: PostgresBackup & { file: string; gzipBytes: number };
  events: EventsBackup & { file: string; gzipBytes: number };
};

async function complete(): Promise<string[]> {
  const names = (await readdir(config.BACKUP_DIR).catch(() => [] as string[])).sort();
  const done: string[] = [];
  for (const name of names)
    if (
      await stat(join(config.BACKUP_DIR, name, 'manifest.json')).then(
        () => true,
        () => false,
      )
    )
      done.push(name);
  return done;
}

async function connect() {
  return connectNats(config.NATS_URL, 'backup', {
    ...(config.NATS_USER ? { user: config.NATS_USER, password: config.NATS_PASSWORD ?? '' } : {}),
    ...(config.NATS_TLS_CA ? { tlsCaFile: config.NATS_TLS_CA } : {}),
  });
}

async function backup(): Promise<Manifest> {
  const startedAt = new Date();
  const name = startedAt.toISOString().replace(/[:.]/g, '-');
  const dir = join(config.BACKUP_DIR, name);
  await mkdir(dir, { recursive: true });
  // Postgres first, then EVENTS: the stream then holds at least every event whose outbox row the database snapshot saw
  // published, and the relay's republishing of the others after a restore is deduplicated by their Nats-Msg-Id.
  const postgres = await backupPostgres(config.DATABASE_URL, join(dir, 'postgres.jsonl.gz'));
  log.info({ rows: postgres.rows, tables: postgres.tables.length }, 'postgres backed up');
  const nc = await connect();
  const events = await backupEvents(nc, join(dir, 'events.jsonl.gz')).finally(() => nc.close());
  log.info({ messages: events.messages, lastSeq: events.lastSeq }, 'EVENTS backed up');
  const manifest: Manifest = {
    format: 'jetsaga-backup/1',
    name,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    postgres: { ...postgres, file: 'postgres.jsonl.gz', gzipBytes: (await stat(join(dir, 'postgres.jsonl.gz'))).size },
    events: { ...events, file: 'events.jsonl.gz', gzipBytes: (await stat(join(dir, 'events.jsonl.gz'))).size },
  };
  await writeFile(join(dir, 'manifest.json.partial'), `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(join(dir, 'manifest.json.partial'), join(dir, 'manifest.json'));
  // Retention: the newest BACKUP_KEEP complete backups stay; older ones and failed runs' leftovers go.
  const kept = (await complete()).slice(-config.BACKUP_KEEP);
  for (const entry of await readdir(config.BACKUP_DIR)) {
    if (!kept.includes(entry)) await rm(join(config.BACKUP_DIR, entry), { recursive: true, force: true });
  }
  return manifest;
}

async function restore(wanted?: string) {
  const names = await complete();
  const name = wanted ?? names.at(-1);
  if (!name || !names.includes(name))
    throw new Error(`no complete backup ${wanted ?? ''} in ${config.BACKUP_DIR} (have: ${names.join(', ')})`);
  const dir = join(config.BACKUP_DIR, name);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const started = Date.now();
  const postgres = await restorePostgres(config.DATABASE_URL, join(dir, manifest.postgres.file), manifest.postgres, (message) =>
    log.debug(message),
  );
  log.info(postgres, 'postgres restored');
  const nc = await connect();
  const events = await restoreEvents(nc, join(dir, manifest.events.file), { log: (message) => log.info(message) }).finally(() =>
    nc.close(),
  );
  log.info(events, 'EVENTS restored');
  return { name, postgres, events, ms: Date.now() - started };
}

const [command, argument] = process.argv.slice(2);
try {
  if (command === 'backup') {
    const manifest = await backup();
    log.info({ name: manifest.name, rows: manifest.postgres.rows, events: manifest.events.messages }, 'backup complete');
    console.log(`BACKUP ${JSON.stringify(manifest)}`);
  } else if (command === 'restore') {
    const report = await restore(argument);
    log.info(report, 'restore complete');
    console.log(`RESTORE ${JSON.stringify(report)}`);
  } else if (command === 'list') {
    console.log((await complete()).join('\n'));
  } else {
    throw new Error('usage: backup | restore [name] | list');
  }
  process.exit(0);
} catch (error) {
  log.error({ err: error }, `${command ?? ''} failed`);
  process.exit(1);
}
