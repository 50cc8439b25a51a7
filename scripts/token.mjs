#!/usr/bin/env node
// `npm run token -- --role admin|agent|customer [--sub <customerId>] [--ttl 1h]`: a bearer token for the system
// `npm start` runs, signed with its development issuer's key (kept in npm start's data directory), printed alone on
// stdout so that `$(npm run --silent token -- --role admin)` works in a shell. The demo, the report and the bench get
// their tokens the same way (bearerToken below), or take JETSAGA_TOKEN when it is set.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devIssuerJwks, devTokenSigner, parseTtl } from '../packages/devstack/dist/index.js';
import { dataDir } from './report.mjs';

const ROLES = ['customer', 'agent', 'admin'];

const USAGE = `npm run token -- --role admin|agent|customer [--sub <customerId>] [--ttl 1h]
       npm run token -- --jwks

  --role <role>  what the token grants: customer (their own records), agent (operations), admin (everything)
  --sub <id>     the subject; a customer token names the customer's id (required for --role customer)
  --ttl <time>   lifetime: seconds, or 90s, 30m, 1h, 2d (default 1h)
  --jwks         print the issuer's public keys instead (a JWKS, for a chart's global.auth.jwks)

Signed with the key of npm start's development issuer, in <data dir>/issuer (JETSAGA_DATA_DIR or npm start's
default); npm start must have run once with that data directory.`;

export function parseArgs(argv) {
  const options = { role: undefined, sub: undefined, ttl: '1h', help: false, jwks: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--role') options.role = value();
    else if (arg === '--sub') options.sub = value();
    else if (arg === '--ttl') options.ttl = value();
    else if (arg === '--jwks') options.jwks = true;
    else if (arg === '--help' || arg === '-h') options.help = true;
    else throw new Error(`unknown option ${arg}\n\n${USAGE}`);
  }
  if (options.help || options.jwks) return options;
  if (!ROLES.includes(options.role)) throw new Error(`--role must be one of ${ROLES.join(', ')}\n\n${USAGE}`);
  if (options.role === 'customer' && !options.sub) throw new Error('a customer token names its customer: --sub <customerId>');
  parseTtl(options.ttl);
  return options;
}

/** npm start's development issuer directory. */
export function issuerDir(env = process.env) {
  return join(dataDir(env), 'issuer');
}

/**
 * A bearer token for the scripts that call the API: JETSAGA_TOKEN when set (a real issuer's token, or the test
 * suite's), else one signed with npm start's development issuer key.
 */
export async function bearerToken({ role = 'admin', sub, ttl = '1h' } = {}, env = process.env) {
  if (env.JETSAGA_TOKEN) return env.JETSAGA_TOKEN;
  const dir = issuerDir(env);
  const signer = await devTokenSigner(dir).catch(() => {
    throw new Error(
      `no development issuer key in ${dir}: run npm start first (with the same JETSAGA_DATA_DIR), or set JETSAGA_TOKEN to a token of the system's issuer`,
    );
  });
  return signer.sign({ role, sub: sub ?? `dev-${role}`, ttl });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return;
  }
  if (options.jwks) {
    process.stdout.write(`${JSON.stringify(await devIssuerJwks(issuerDir()))}\n`);
    return;
  }
  const { JETSAGA_TOKEN: _ignored, ...env } = process.env;
  process.stdout.write(`${await bearerToken(options, env)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`[token] ${error.message}`);
    process.exit(1);
  });
}
