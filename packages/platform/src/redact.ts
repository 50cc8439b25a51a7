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

/** What an email address in a log line becomes (ADR 0052: logs carry no personal data). */
export const EMAIL_REDACTED = '[email]';
const EMAIL = /(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g;
const MESSAGE_ID_LOCAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@/i;

/**
 * The text with every email address replaced, wherever it is (an SMTP error quoting its recipient, say): customers'
 * names and addresses are never logged, and an email address is the one a library may still quote. Message-IDs
 * (`<uuid>@domain`) are kept: they identify messages, not people.
 */
export function scrubPersonalData(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(EMAIL, (found) => (MESSAGE_ID_LOCAL.test(found) ? found : EMAIL_REDACTED));
}

/** A log line as written: no secrets, no email addresses. */
export function scrubLine(text: string): string {
  return scrubPersonalData(scrubSecrets(text));
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

const SECRET_KEY_SET = new Set(SECRET_KEYS.map((key) => key.toLowerCase()));
const MAX_ATTRIBUTE_CHARS = 1024;

/** A value as a span attribute can hold it: a primitive, or JSON of anything else, shortened. */
function attributeValue(value: unknown): string | number | boolean {
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  let text: string;
  if (typeof value === 'string') text = value;
  else if (value instanceof Error) text = `${value.name}: ${value.message}`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  text = scrubLine(text);
  return text.length > MAX_ATTRIBUTE_CHARS ? `${text.slice(0, MAX_ATTRIBUTE_CHARS)}…` : text;
}

/**
 * A log line's fields as span-event attributes, through the same two nets as the line itself: a field named for a
 * secret is censored (at any depth, as `redact` does for the written line), and every value is scrubbed by shape.
 */
export function redactedAttributes(fields: Readonly<Record<string, unknown>>): Record<string, string | number | boolean> {
  const censor = (value: unknown, depth: number): unknown => {
    if (depth > 4 || value === null || typeof value !== 'object' || value instanceof Error) return value;
    if (Array.isArray(value)) return value.map((item) => censor(item, depth + 1));
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, SECRET_KEY_SET.has(key.toLowerCase()) ? REDACTED : censor(inner, depth + 1)]),
    );
  };
  const attributes: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    attributes[key] = SECRET_KEY_SET.has(key.toLowerCase()) ? REDACTED : attributeValue(censor(value, 0));
  }
  return attributes;
}
