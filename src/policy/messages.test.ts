import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactQuoted, messageScrubber, touchesMaskedTables } from './messages.ts';
import { MaskSet } from './maskset.ts';
import { classify } from '../sql/index.ts';
import type { PolicyConfig } from '../config/types.ts';

const flavor = { version: 101119, mariadb: true, noBackslashEscapes: false };
const policy = (masking: PolicyConfig['masking']): PolicyConfig => ({
  name: 'p', groups: ['g'], targets: ['*'], guardrails: 'none', rules: [], masking, maskedColumnUse: 'deny',
  approvalMode: 'hold', retryValidity: 60_000,
});

test('quoted values in a message are replaced, escaped quotes included', () => {
  assert.equal(redactQuoted("Truncated incorrect DOUBLE value: '123-45-6789'"), "Truncated incorrect DOUBLE value: '****'");
  assert.equal(redactQuoted("Duplicate entry 'it''s' for key 'email'"), "Duplicate entry '****' for key '****'");
  assert.equal(redactQuoted('no quotes here'), 'no quotes here');
  assert.equal(redactQuoted("unterminated 'abc"), "unterminated '****");
});

test('only statements on tables with masked columns get their messages scrubbed', () => {
  const masks = new MaskSet(policy([{ columns: ['app.users.ssn'], style: 'redact' }]));
  assert.equal(touchesMaskedTables(masks, classify('SELECT ssn + 0 FROM users', flavor), 'app'), true);
  assert.equal(touchesMaskedTables(masks, classify('SELECT price + 0 FROM products', flavor), 'app'), false);
  assert.equal(touchesMaskedTables(masks, classify('SELECT ssn FROM users', flavor), 'other'), false);
  assert.equal(touchesMaskedTables(masks, null, 'app'), true, 'unknown statement: fail closed');
  assert.equal(messageScrubber(masks, classify('SELECT 1', flavor), 'app'), null);
  const s = messageScrubber(masks, classify('SELECT ssn + 0 FROM users', flavor), 'app')!;
  assert.equal(s("Truncated incorrect DOUBLE value: '123-45-6789'"), "Truncated incorrect DOUBLE value: '****'");
  assert.equal(s('nothing to hide'), null);
});

test('content detectors run over messages of any statement when the policy has them', () => {
  const masks = new MaskSet(policy([{ detect: ['email', 'credit_card'], style: 'redact' }]));
  const s = messageScrubber(masks, classify('SELECT 1', flavor), 'app')!;
  assert.equal(s('Duplicate entry ann@example.com for key x'), 'Duplicate entry **** for key x');
  assert.equal(s('card 4111 1111 1111 1111 refused'), 'card **** refused');
});
