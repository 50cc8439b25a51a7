import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { goInstalled, type Say, toolVersion } from './go-build.js';
import { freePort, waitFor } from './ports.js';
import { terminate } from './process.js';

/** Mailpit: a real SMTP server with an HTTP API, where `npm start` and the tests send the system's email. */
export const MAILPIT_VERSION = '1.33.1';

/** Finds Mailpit: MAILPIT_BIN, else one of the pinned version on PATH, else the pinned version built with Go (about 70 s, once). */
export async function ensureMailpit(say: Say = () => undefined): Promise<string> {
  if (process.env.MAILPIT_BIN) return process.env.MAILPIT_BIN;
  if ((await toolVersion('mailpit', ['version'])) === MAILPIT_VERSION) return 'mailpit';
  return goInstalled({ name: 'mailpit', version: MAILPIT_VERSION, pkg: 'github.com/axllent/mailpit', say, expected: 'about 70 s' });
}

export type MailpitOptions = {
  bin: string;
  /** Its database (kept across stop/start, so a test that stops the server still counts what it received before) and log. */
  dir: string;
  smtpPort?: number;
  httpPort?: number;
};

export type MailpitServer = {
  smtpHost: string;
  smtpPort: number;
  /** The web UI and the HTTP API (`/api/v1/...`). */
  httpUrl: string;
  /** Stops it (SMTP refused from then on), keeping its messages. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the same messages. */
  start(): Promise<void>;
  /** Messages whose Message-ID is this one (without angle brackets), as its search API counts them. */
  countByMessageId(messageId: string): Promise<number>;
};

export async function startMailpit(options: MailpitOptions): Promise<MailpitServer> {
  await mkdir(options.dir, { recursive: true });
  let smtpPort = options.smtpPort ?? (await freePort());
  let httpPort = options.httpPort ?? (await freePort());
  let httpUrl = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | undefined;
  let bindFailed = false;
  const launch = async () => {
    bindFailed = false;
    const log = createWriteStream(join(options.dir, 'mailpit.log'), { flags: 'a' });
    const started = spawn(
      options.bin,
      [
        '--listen',
        `127.0.0.1:${httpPort}`,
        '--smtp',
        `127.0.0.1:${smtpPort}`,
        '--database',
        join(options.dir, 'mailpit.db'),
        // Every message is kept: the tests count them (the default keeps the last 500).
        '--max',
        '0',
        '--smtp-auth-accept-any',
        '--smtp-auth-allow-insecure',
        '--disable-version-check',
        '--quiet',
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.stdout?.pipe(log);
    started.stderr?.pipe(log);
    for (const output of [started.stdout, started.stderr])
      output?.on('data', (chunk: Buffer) => {
        if (/address already in use/.test(chunk.toString())) bindFailed = true;
      });
    child = started;
    let exited = false;
    started.once('exit', () => (exited = true));
    await waitFor(
      `mailpit on ${httpUrl} (log: ${join(options.dir, 'mailpit.log')})`,
      async () => {
        if (exited) throw new Error('mailpit exited during start-up');
        return (await fetch(`${httpUrl}/readyz`)).ok;
      },
      20_000,
    );
  };
  // A free port found here may be taken by another process before mailpit binds it (tests start servers side by
  // side): ports of our own choosing are chosen again, up to three times.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      if (!bindFailed || attempt >= 3 || options.smtpPort !== undefined || options.httpPort !== undefined) throw error;
      smtpPort = await freePort();
      httpPort = await freePort();
      httpUrl = `http://127.0.0.1:${httpPort}`;
    }
  }
  return {
    smtpHost: '127.0.0.1',
    smtpPort,
    httpUrl,
    stop: () => terminate(child, 'SIGTERM'),
    start: launch,
    countByMessageId: async (messageId) => {
      const query = encodeURIComponent(`message-id:"${messageId}"`);
      const response = await fetch(`${httpUrl}/api/v1/search?query=${query}&limit=50`);
      if (!response.ok) throw new Error(`mailpit search answered ${response.status}`);
      return ((await response.json()) as { messages_count: number }).messages_count;
    },
  };
}
