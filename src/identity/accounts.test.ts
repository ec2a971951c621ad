import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import {
  secretMatches, secretsEqual, verifyCachingSha2Password, verifyNativePassword,
} from './accounts.ts';
import { cachingSha2Scramble, nativeScramble as nativePasswordScramble } from '../protocol/auth.ts';

// mysql2's client-side implementations, as an independent reference for what real clients send.
// They are not in the package's exports map, so they are loaded by file path.
const require = createRequire(import.meta.url);
const mysql2 = dirname(require.resolve('mysql2'));
const auth41 = require(join(mysql2, 'lib/auth_41.js')) as { calculateToken(pw: string, s1: Buffer, s2: Buffer): Buffer };
const sha2 = require(join(mysql2, 'lib/auth_plugins/caching_sha2_password.js')) as { calculateToken(pw: string, scramble: Buffer): Buffer };

const account = { name: 'ci-migrator', secret: 'correct horse battery staple ✓', groups: ['ci'] };

test('cleartext secrets compare equal only when equal', () => {
  assert.equal(secretMatches(account, account.secret), true);
  assert.equal(secretMatches(account, `${account.secret} `), false);
  assert.equal(secretMatches(account, ''), false);
  assert.equal(secretsEqual('a', 'a'), true);
  assert.equal(secretsEqual('a', 'b'), false);
  assert.equal(secretsEqual('short', 'a much longer string'), false);
});

test('mysql_native_password: the scramble a real client computes is accepted, anything else is not', () => {
  for (let i = 0; i < 20; i++) {
    const nonce = randomBytes(20);
    const fromClient = auth41.calculateToken(account.secret, nonce.subarray(0, 8), nonce.subarray(8));
    assert.deepEqual(nativePasswordScramble(account.secret, nonce), fromClient);
    assert.equal(verifyNativePassword(account, nonce, fromClient), true);
    // The handshake's trailing NUL after the nonce does not change the answer.
    assert.equal(verifyNativePassword(account, Buffer.concat([nonce, Buffer.from([0])]), fromClient), true);
    assert.equal(verifyNativePassword(account, randomBytes(20), fromClient), false, 'another nonce');
    const wrong = auth41.calculateToken('wrong password', nonce.subarray(0, 8), nonce.subarray(8));
    assert.equal(verifyNativePassword(account, nonce, wrong), false, 'another password');
    assert.equal(verifyNativePassword(account, nonce, fromClient.subarray(0, 19)), false, 'truncated');
    assert.equal(verifyNativePassword(account, nonce, Buffer.alloc(0)), false, 'empty (no password)');
  }
});

test('caching_sha2_password fast authentication: the same, against its own scramble', () => {
  for (let i = 0; i < 20; i++) {
    const nonce = randomBytes(20);
    const fromClient = sha2.calculateToken(account.secret, nonce);
    assert.deepEqual(cachingSha2Scramble(account.secret, nonce), fromClient);
    assert.equal(verifyCachingSha2Password(account, nonce, fromClient), true);
    assert.equal(verifyCachingSha2Password(account, randomBytes(20), fromClient), false);
    assert.equal(verifyCachingSha2Password(account, nonce, sha2.calculateToken('nope', nonce)), false);
    assert.equal(verifyCachingSha2Password(account, nonce, Buffer.alloc(0)), false);
  }
});
