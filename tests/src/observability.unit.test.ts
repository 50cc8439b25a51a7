import { describe, expect, it } from 'vitest';
import { alertSignal, withGrafanaVariables } from './support/observability.js';

describe('the signal of an alert expression', () => {
  it('turns every comparison into a bool comparison, outside label matchers and strings', () => {
    expect(alertSignal('max(jetsaga_sagas_stuck) > 0')).toBe('max(jetsaga_sagas_stuck) > bool 0');
    expect(alertSignal('up{job=~"(a|b)"} == 0')).toBe('up{job=~"(a|b)"} == bool 0');
    expect(alertSignal('(max by (c) (x) > 100)\n  and on (c)\n(max by (c) (deriv(x[10m])) > 0)')).toBe(
      '(max by (c) (x) > bool 100)\n  and on (c)\n(max by (c) (deriv(x[10m])) > bool 0)',
    );
    expect(alertSignal('a{reason!="x>y"} >= 1')).toBe('a{reason!="x>y"} >= bool 1');
  });

  it('replaces Grafana interval variables', () => {
    expect(withGrafanaVariables('rate(x[$__rate_interval])')).toBe('rate(x[1m])');
  });
});
