import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  HashKey, KeyedHasher, hashNumber, hashToken, partialAuto, partialDigits, partialEmail, partialEnds, partialPem,
} from './styles.ts';

describe('hash style', () => {
  test('is HMAC-SHA256, for every key and value length', () => {
    for (const keyLen of [1, 16, 32, 64, 65, 200]) {
      const key = Buffer.alloc(keyLen, 0).map((_, i) => (i * 31 + keyLen) & 0xff) as Buffer;
      const h = new KeyedHasher(new HashKey(Buffer.from(key)));
      for (const n of [0, 1, 55, 56, 64, 1024, 1025, 5000]) {
        const data = Buffer.alloc(n).map((_, i) => (i * 7) & 0xff);
        assert.deepEqual(h.digest(data), createHmac('sha256', Buffer.from(key)).update(data).digest(), `key ${keyLen}, value ${n}`);
      }
    }
  });

  test('renders 16 base64url characters; numbers stay under the digit limit', () => {
    const h = new KeyedHasher(new HashKey(Buffer.from('k'.repeat(32))));
    const t = hashToken(h, Buffer.from('536-22-1234'));
    assert.match(t, /^[A-Za-z0-9_-]{16}$/);
    assert.equal(hashToken(h, Buffer.from('536-22-1234')), t);
    assert.notEqual(hashToken(h, Buffer.from('536-22-1235')), t);
    for (const d of [1, 3, 8, 15, 18]) assert.ok(hashNumber(h, Buffer.from('x'), d) < 10n ** BigInt(d));
  });
});

describe('partial style', () => {
  test('digits: all but the last four hidden, separators kept', () => {
    assert.equal(partialDigits('4111-1111-1111-1111'), '****-****-****-1111');
    assert.equal(partialDigits('+44 20 7946 0958'), '+** ** **** 0958');
    assert.equal(partialDigits('1234'), '****');
  });
  test('email: first letter and domain', () => {
    assert.equal(partialEmail('jane.doe@example.com'), 'j***@example.com');
    assert.equal(partialEmail('Ω@example.com'), 'Ω***@example.com');
  });
  test('otherwise: first and last character; short values hidden entirely', () => {
    assert.equal(partialEnds('Alexander'), 'A****r');
    assert.equal(partialEnds('Zoë😀x'), 'Z****x');
    assert.equal(partialEnds('😀abc😀'), '😀****😀', 'characters, not UTF-16 halves');
    assert.equal(partialEnds('abcd'), '****');
    assert.equal(partialEnds(''), '****');
  });
  test('private keys keep their BEGIN and END lines', () => {
    assert.equal(partialPem('-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----'), '-----BEGIN PRIVATE KEY-----****-----END PRIVATE KEY-----');
  });
  test('auto: judged from the value', () => {
    assert.equal(partialAuto('ann@example.org'), 'a***@example.org');
    assert.equal(partialAuto('536-22-1234'), '***-**-1234');
    assert.equal(partialAuto('not an@ email'), 'n****l');
    assert.equal(partialAuto('12345'), '1****5', 'short numbers are not digit-heavy');
  });
});
