import { describe, expect, it } from 'vitest';
import { overriddenVariables, PASSED_VARIABLES, reachableHost, SERVICES, type ServiceName, serviceEnvironment } from './system.js';

const urls = Object.fromEntries(SERVICES.map((name, index) => [name, `http://127.0.0.1:${9100 + index}`])) as Record<ServiceName, string>;

function environment(parent: NodeJS.ProcessEnv, overrides?: Record<string, string>) {
  return serviceEnvironment({
    name: 'payment',
    parent,
    natsUrl: 'nats://127.0.0.1:4999',
    databaseUrl: 'postgres://db/jetsaga',
    urls,
    port: 9103,
    metricsPort: 10487,
    overrides,
  });
}

describe('the environment npm start gives a service', () => {
  it('passes every variable the services read from the launching environment', () => {
    const parent = Object.fromEntries(PASSED_VARIABLES.map((name, index) => [name, `value-${index}`]));
    const env = environment({ ...parent, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_SAMPLER: 'always_on' });
    for (const [name, value] of Object.entries(parent)) expect(env[name], name).toBe(value);
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://127.0.0.1:4318');
    expect(env.OTEL_TRACES_SAMPLER).toBe('always_on');
  });

  it('passes the AUTH_* variables: every service trusts the same token issuer', () => {
    const env = environment({ AUTH_ISSUER: 'https://id.example', AUTH_AUDIENCE: 'shop', AUTH_JWKS: '{"keys":[]}' });
    expect(env).toMatchObject({ AUTH_ISSUER: 'https://id.example', AUTH_AUDIENCE: 'shop', AUTH_JWKS: '{"keys":[]}' });
  });

  it('passes DB_POOL_MAX and HOST, which it once dropped', () => {
    const env = environment({ DB_POOL_MAX: '3', HOST: '0.0.0.0', PATH: '/usr/bin', HOME: '/home/ada' });
    expect(env).toMatchObject({ DB_POOL_MAX: '3', HOST: '0.0.0.0', PATH: '/usr/bin', HOME: '/home/ada' });
  });

  it("sets the service's own ports, peers, servers and trace name whatever the parent says", () => {
    const env = environment({
      PORT: '1',
      METRICS_PORT: '2',
      ORDER_URL: 'http://elsewhere:1',
      NATS_URL: 'nats://elsewhere:1',
      DATABASE_URL: 'postgres://elsewhere/x',
      OTEL_SERVICE_NAME: 'other',
    });
    expect(env).toMatchObject({
      PORT: '9103',
      METRICS_PORT: '10487',
      ORDER_URL: urls.order,
      INVENTORY_URL: urls.inventory,
      PAYMENT_URL: urls.payment,
      SALES_URL: urls.sales,
      EVENT_STORE_URL: urls['event-store'],
      NATS_URL: 'nats://127.0.0.1:4999',
      DATABASE_URL: 'postgres://db/jetsaga',
      OTEL_SERVICE_NAME: 'payment',
    });
  });

  it('gives a caller its own settings over the parent, but never over the ports', () => {
    const env = environment({ LOG_LEVEL: 'debug', SAGA_DEADLINE_MS: '30000' }, { SAGA_DEADLINE_MS: '2000', PORT: '1' });
    expect(env).toMatchObject({ LOG_LEVEL: 'debug', SAGA_DEADLINE_MS: '2000', PORT: '9103' });
  });

  it('keeps the rest of the launching environment out, and unset values absent', () => {
    const env = environment({ SECRET_TOKEN: 'x', NODE_OPTIONS: '--inspect', npm_config_cache: '/tmp', PATH: undefined });
    expect(env).not.toHaveProperty('SECRET_TOKEN');
    expect(env).not.toHaveProperty('NODE_OPTIONS');
    expect(env).not.toHaveProperty('npm_config_cache');
    expect(env).not.toHaveProperty('PATH');
    expect(Object.values(env).every((value) => typeof value === 'string')).toBe(true);
  });

  it('names what the parent set that does not apply', () => {
    expect(overriddenVariables({ PORT: '1', NATS_URL: 'nats://x', ORDER_URL: 'http://x', DB_POOL_MAX: '3' })).toEqual([
      'PORT',
      'ORDER_URL',
    ]);
    expect(overriddenVariables({})).toEqual([]);
  });
});

describe('reachableHost', () => {
  it('reaches a wildcard bind on loopback and any other address as it is', () => {
    expect(reachableHost(undefined)).toBe('127.0.0.1');
    expect(reachableHost('0.0.0.0')).toBe('127.0.0.1');
    expect(reachableHost('::')).toBe('127.0.0.1');
    expect(reachableHost('10.1.2.3')).toBe('10.1.2.3');
    expect(reachableHost('::1')).toBe('[::1]');
    expect(reachableHost('localhost')).toBe('localhost');
  });
});
