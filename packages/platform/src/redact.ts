/**
 * Credentials never reach the logs. Two nets, because a secret can sit in a field of its own or inside a string:
 * - by key, in the object logged (pino's `redact`, fast): authorization and cookie headers, tokens, passwords,
 *   secrets, DATABASE_URL and NATS_PASSWORD, at the top level, one level down and in request/response headers;
 * - by shape, in the line as written (`scrubSecrets`, on every line): any JSON field whose name says it holds a
 *   secret, the password of any URL (`postgres://user:secret@host`, `nats://...`), bearer credentials and anything
 *   shaped like a JWT, wherever they are (a message, an error's message or stack, a nested value).
 */
export const REDACTED = '[REDACTED]';

const SECRET_KEYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'password',
  'secret',
  'clientSecret',
  'client_secret',
  'DATABASE_URL',
  'databaseUrl',
  'NATS_PASSWORD',
  'natsPassword',
  'NATS_TOKEN',
];

/** pino `redact` paths: each key at the top, one level down, and under headers. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((key) => {
  const at = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
  return [at.slice(at.startsWith('.') ? 1 : 0), `*${at}`, `headers${at}`, `req.headers${at}`, `res.headers${at}`, `*.headers${at}`];
});

const LIKELY = /:\/\/|eyJ|bearer|basic |passw|secret|token|authoriz|cookie|api.?key/i;
const SECRET_FIELD =
  /"([\w-]*(?:authorization|cookie|passw(?:or)?d|secret|token|api[_-]?key|credential)[\w-]*)"(\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"]*:)[^\s@/"]+@/gi;
const JWT = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const BEARER = /\b(bearer|basic)(\s+)[\w\-.~+/]+=*/gi;

/** The text with every secret it visibly holds replaced by [REDACTED] (a log line, a message, a URL). */
export function scrubSecrets(text: string): string {
  if (!LIKELY.test(text)) return text;
  return text
    .replace(SECRET_FIELD, `"$1"$2"${REDACTED}"`)
    .replace(URL_PASSWORD, `$1${REDACTED}@`)
    .replace(JWT, REDACTED)
    .replace(BEARER, `$1$2${REDACTED}`);
}

/** A URL with its password (if any) replaced, for a log line that must say which server it is. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = REDACTED;
    return parsed.toString();
  } catch {
    return scrubSecrets(url);
  }
}
