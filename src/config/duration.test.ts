import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from './duration.ts';
import { closest } from './suggest.ts';

test('durations', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('300s'), 300_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('90d'), 90 * 86_400_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('0s'), 0);
  for (const bad of ['', '300', 's', '5 m', '5min', '-5s', '1.s', 'h1']) assert.equal(parseDuration(bad), undefined, bad);
});

test('suggestions: separators and case, typos, cut-short words; nothing when far', () => {
  assert.equal(closest('jwks_uri', ['jwksUri', 'issuer']), 'jwksUri');
  assert.equal(closest('Listen', ['listen']), 'listen');
  assert.equal(closest('audiance', ['audience', 'issuer']), 'audience');
  assert.equal(closest('prot', ['port', 'host']), 'port');
  assert.equal(closest('trunc', ['truncate', 'drop']), 'truncate');
  assert.equal(closest('colour', ['listen']), undefined);
  assert.equal(closest('ab', ['xy']), undefined);
});
