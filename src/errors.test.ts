import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, errorMessage } from './errors.ts';

// The README's error table is what users read: it must say exactly what src/errors.ts does, no more, no less.
test('README.md lists every error of errors.ts with its errno, SQLSTATE, HTTP status and prefix', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Errors a client receives'));
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const m = /^\| ([A-Z_]+) \| (\d+) \| (\w{5}) \| (\d{3}) \| `([^`]+)` \|$/.exec(line);
    if (m) rows.set(m[1]!, m.slice(2));
  }
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERRORS).sort());
  for (const [name, spec] of Object.entries(ERRORS)) {
    assert.deepEqual(rows.get(name), [String(spec.errno), spec.sqlState, String(spec.http), spec.prefix], name);
  }
});

test('the contract fixes the first five errors', () => {
  assert.deepEqual([ERRORS.LOGIN_REFUSED.errno, ERRORS.LOGIN_REFUSED.sqlState], [1045, '28000']);
  assert.equal(ERRORS.POLICY_DENIED.prefix, 'agentgate: denied by policy');
  assert.equal(ERRORS.APPROVAL_DENIED.prefix, 'agentgate: approval denied');
  assert.equal(ERRORS.APPROVAL_TIMED_OUT.prefix, 'agentgate: approval timed out');
  assert.deepEqual([ERRORS.AUDIT_UNAVAILABLE.errno, ERRORS.AUDIT_UNAVAILABLE.sqlState], [1290, 'HY000']);
  assert.equal(errorMessage('POLICY_DENIED', 'why'), 'agentgate: denied by policy: why');
});
