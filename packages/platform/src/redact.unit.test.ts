import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS, REDACTED, redactUrl, scrubSecrets } from './redact.js';

const JWT = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImRldi0xIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9.c2lnbmF0dXJlLWJ5dGVzLW9mLXRoZS10b2tlbg';

/** A logger as createLogger makes it, writing to a string. */
function capture() {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const log = pino({ redact: { paths: REDACT_PATHS, censor: REDACTED }, hooks: { streamWrite: scrubSecrets } }, stream);
  return { log, text: () => out };
}

describe('secrets in logs', () => {
  it('censors fields named for a secret, at the top, one level down and in headers', () => {
    const { log, text } = capture();
    log.info(
      {
        authorization: `Bearer ${JWT}`,
        password: 'hunter2-pw',
        principal: { subject: 'admin', token: 'opaque-token-value' },
        req: { headers: { authorization: 'Basic dXNlcjpwYXNz', cookie: 'sid=cookie-value', 'x-request-id': 'r1' } },
        config: { DATABASE_URL: 'postgres://app:db-secret-pw@db:5432/jetsaga', NATS_PASSWORD: 'nats-secret-pw' },
      },
      'request',
    );
    const line = text();
    for (const secret of ['hunter2-pw', 'opaque-token-value', 'dXNlcjpwYXNz', 'cookie-value', 'db-secret-pw', 'nats-secret-pw', JWT]) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain('"x-request-id":"r1"');
    expect(line).toContain('"subject":"admin"');
  });

  it('scrubs secrets inside strings wherever they are: messages, error messages and stacks, deep values', () => {
    const { log, text } = capture();
    log.error({ err: new Error('connect failed: postgres://app:db-secret-pw@10.0.0.5:5432/jetsaga') }, 'db down');
    log.warn({ deep: { deeper: { note: `got Bearer ${JWT} from client` } } }, `token was ${JWT}`);
    log.info({ nested: { a: { b: { clientSecret: 'client-secret-value', natsUrl: 'nats://svc:nats-secret-pw@nats:4222' } } } }, 'x');
    const lines = text();
    for (const secret of ['db-secret-pw', JWT, 'client-secret-value', 'nats-secret-pw']) expect(lines).not.toContain(secret);
    expect(lines).toContain(`postgres://app:${REDACTED}@10.0.0.5:5432/jetsaga`);
    expect(lines).toContain('nats://svc:');
    expect(
      lines
        .split('\n')
        .filter(Boolean)
        .every((line) => JSON.parse(line)),
    ).toBe(true);
  });

  it('leaves a line without secrets as it was', () => {
    const line = '{"level":30,"msg":"stock reserved","orderId":"0190","url":"http://127.0.0.1:8081/readyz"}';
    expect(scrubSecrets(line)).toBe(line);
  });

  it('redacts a URL password and keeps the rest of the URL', () => {
    expect(redactUrl('postgres://app:pa%40ss@db:5432/x')).toBe(`postgres://app:${encodeURIComponent(REDACTED)}@db:5432/x`);
    expect(redactUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
  });
});

describe('personal data in logs', () => {
  it('replaces email addresses wherever they are, and keeps Message-IDs, hosts and URLs', async () => {
    const { scrubLine, EMAIL_REDACTED } = await import('./redact.js');
    const line = JSON.stringify({
      msg: 'email not sent',
      err: { message: "Can't send mail - all recipients were rejected: 550 5.1.1 <ada.lovelace+shop@example.org>: no such user" },
      messageId: '<0190a2b4-1c2d-7e3f-8a9b-0c1d2e3f4a5b@jetsaga.local>',
      nats: 'nats://payment@127.0.0.1:4222',
      db: 'postgres://app:secret@db.example.org:5432/jetsaga',
    });
    const scrubbed = scrubLine(line);
    expect(scrubbed).not.toContain('ada.lovelace');
    expect(scrubbed).toContain(`<${EMAIL_REDACTED}>`);
    expect(scrubbed).toContain('<0190a2b4-1c2d-7e3f-8a9b-0c1d2e3f4a5b@jetsaga.local>');
    expect(scrubbed).toContain('nats://payment@127.0.0.1:4222');
    expect(scrubbed).toContain(`postgres://app:${REDACTED}@db.example.org:5432/jetsaga`);
  });
});
