import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DetectorName } from '../config/types.ts';
import { DETECTOR_OF_ID, Detectors } from './detectors.ts';

/** The matched substrings of `text`, as [detector, match]. */
function find(text: string, names: DetectorName[] = ['credit_card', 'email', 'ssn', 'iban', 'phone', 'api_key', 'jwt']): [DetectorName, string][] {
  const d = new Detectors(names);
  const b = Buffer.from(`##${text}##`);
  const out: number[] = [];
  // Scan a window inside a larger buffer: offsets must respect the cell's bounds, not the buffer's.
  d.scan(b, 2, b.length - 2, out);
  const res: [DetectorName, string][] = [];
  for (let k = 0; k < out.length; k += 3) res.push([DETECTOR_OF_ID[out[k + 2]!]!, b.toString('utf8', out[k]!, out[k + 1]!)]);
  return res;
}

function only(name: DetectorName, text: string): string[] {
  return find(text, [name]).map(([, m]) => m);
}

describe('credit_card', () => {
  test('finds card numbers with a network prefix and a valid Luhn digit', () => {
    assert.deepEqual(only('credit_card', 'card 4111111111111111 ok'), ['4111111111111111']);
    assert.deepEqual(only('credit_card', 'Visa: 4111 1111 1111 1111.'), ['4111 1111 1111 1111']);
    assert.deepEqual(only('credit_card', 'mc 5500-0000-0000-0004'), ['5500-0000-0000-0004']);
    assert.deepEqual(only('credit_card', 'amex 3782 822463 10005'), ['3782 822463 10005']);
    assert.deepEqual(only('credit_card', '6011111111111117'), ['6011111111111117']);
    assert.deepEqual(only('credit_card', 'two: 4012888888881881,5105105105105100'), ['4012888888881881', '5105105105105100']);
    // A card followed by another number on the same line.
    assert.deepEqual(only('credit_card', 'paid 4111 1111 1111 1111 2024'), ['4111 1111 1111 1111']);
  });
  test('finds a 13-digit card however much text surrounds it, in every place of the value', () => {
    // The scan gives up once the other bytes leave no room for 13 digits: a value with exactly 13 must still be read.
    assert.deepEqual(only('credit_card', '4222222222222'), ['4222222222222']);
    assert.deepEqual(only('credit_card', 'card 4222222222222'), ['4222222222222']);
    assert.deepEqual(only('credit_card', '4222222222222 was the card on file, replaced since'), ['4222222222222']);
    assert.deepEqual(only('credit_card', 'the card on file, replaced since, was 4222222222222'), ['4222222222222']);
    assert.deepEqual(only('credit_card', 'the card on file, replaced since, was 422222222222'), [], '12 digits');
  });
  test('rejects look-alikes', () => {
    assert.deepEqual(only('credit_card', '4111111111111112'), [], 'bad Luhn digit');
    assert.deepEqual(only('credit_card', '1234567812345670'), [], 'valid Luhn, no network starts with 1');
    assert.deepEqual(only('credit_card', 'order 41111111111111111111'), [], 'too long');
    assert.deepEqual(only('credit_card', 'x4111111111111111'), [], 'glued to a word');
    assert.deepEqual(only('credit_card', '4111111111111111abc'), [], 'glued to a word');
    assert.deepEqual(only('credit_card', 'tel 555 0100 4111'), []);
    assert.deepEqual(only('credit_card', '2024-01-15 10:20:30'), []);
  });
});

describe('email', () => {
  test('finds addresses', () => {
    assert.deepEqual(only('email', 'contact jane.doe+x@mail.example.com, thanks'), ['jane.doe+x@mail.example.com']);
    assert.deepEqual(only('email', '<a@b.io>'), ['a@b.io']);
    assert.deepEqual(only('email', 'a@x.org and b_c@y.co.uk'), ['a@x.org', 'b_c@y.co.uk']);
    assert.deepEqual(only('email', 'end.with.dot@example.com.'), ['end.with.dot@example.com']);
  });
  test('rejects look-alikes', () => {
    assert.deepEqual(only('email', '@handle and user@localhost and a@b.c1 and x@.com'), []);
    assert.deepEqual(only('email', 'price 5 @ 3.50'), []);
  });
});

describe('ssn', () => {
  test('finds US SSNs in the usual forms', () => {
    assert.deepEqual(only('ssn', 'SSN: 219-09-9991.'), ['219-09-9991']);
    assert.deepEqual(only('ssn', 'ssn 536 22 1234'), ['536 22 1234']);
    assert.deepEqual(only('ssn', '536221234'), ['536221234'], 'a whole cell of 9 digits');
  });
  test('rejects never-issued numbers and other shapes', () => {
    for (const bad of ['000-12-3456', '666-12-3456', '900-12-3456', '999-12-3456', '123-00-4567', '123-45-0000']) {
      assert.deepEqual(only('ssn', bad), [], bad);
    }
    assert.deepEqual(only('ssn', 'id 536221234 in text'), [], 'bare 9 digits inside text');
    assert.deepEqual(only('ssn', '536-22-12345'), []);
    assert.deepEqual(only('ssn', '1-536-22-1234'), []);
    assert.deepEqual(only('ssn', '536-22 1234'), [], 'mixed separators');
    assert.deepEqual(only('ssn', '2024-01-15'), []);
  });
});

describe('iban', () => {
  test('finds IBANs with a valid checksum, grouped or not', () => {
    assert.deepEqual(only('iban', 'pay to DE89370400440532013000 today'), ['DE89370400440532013000']);
    assert.deepEqual(only('iban', 'GB82 WEST 1234 5698 7654 32'), ['GB82 WEST 1234 5698 7654 32']);
    assert.deepEqual(only('iban', 'FR1420041010050500013M02606'), ['FR1420041010050500013M02606']);
  });
  test('rejects bad checksums, wrong lengths and unknown countries', () => {
    assert.deepEqual(only('iban', 'DE89370400440532013001'), []);
    assert.deepEqual(only('iban', 'DE8937040044053201300'), []);
    assert.deepEqual(only('iban', 'ZZ89370400440532013000'), []);
    assert.deepEqual(only('iban', 'DE89370400440532013000X'), []);
  });
});

describe('phone', () => {
  test('finds E.164 and common national forms', () => {
    assert.deepEqual(only('phone', 'call +14155552671 now'), ['+14155552671']);
    assert.deepEqual(only('phone', 'call +1 (415) 555-2671'), ['+1 (415) 555-2671']);
    assert.deepEqual(only('phone', 'London +44 20 7946 0958'), ['+44 20 7946 0958']);
    assert.deepEqual(only('phone', 'intl 0044 20 7946 0958'), ['0044 20 7946 0958']);
    assert.deepEqual(only('phone', '(415) 555-2671'), ['(415) 555-2671']);
    assert.deepEqual(only('phone', 'tel: 415-555-2671.'), ['415-555-2671']);
    assert.deepEqual(only('phone', '415.555.2671'), ['415.555.2671']);
    assert.deepEqual(only('phone', '1 415 555 2671 ext 2'), ['1 415 555 2671']);
    assert.deepEqual(only('phone', 'UK 020 7946 0958'), ['020 7946 0958']);
    assert.deepEqual(only('phone', 'FR 06 12 34 56 78'), ['06 12 34 56 78']);
  });
  test('keeps false positives low', () => {
    assert.deepEqual(only('phone', '4155552671'), [], 'a bare run of 10 digits');
    assert.deepEqual(only('phone', 'order 1700000000123'), []);
    assert.deepEqual(only('phone', '2024-01-15 10:20:30'), []);
    assert.deepEqual(only('phone', 'v1.2.3 and 10.0.0.1'), []);
    assert.deepEqual(only('phone', '115-555-2671'), [], 'NANP area codes do not start with 1');
    assert.deepEqual(only('phone', '415-155-2671'), [], 'nor do exchanges');
    assert.deepEqual(only('phone', '+123'), [], 'too short for E.164');
    assert.deepEqual(only('phone', '+1234567890123456'), [], 'too long for E.164');
    assert.deepEqual(only('phone', 'ISBN 978-3-16-148410-0'), []);
    assert.deepEqual(only('phone', '01.02.2024'), []);
  });
});

describe('api_key', () => {
  const keys = [
    'AKIAIOSFODNN7EXAMPLE',
    'ASIAY34FZKBOKMUTVV7A',
    'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
    'gho_16C7e42F292c6912E7710c838347Ae178B4a',
    'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab',
    'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
    'xoxp-1234567890-abcdefghij',
    'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
    'AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI',
  ];
  for (const k of keys) {
    test(`finds ${k.slice(0, 8)}…`, () => {
      assert.deepEqual(only('api_key', `key=${k}&x=1`), [k]);
    });
  }
  test('finds a private key block, whole', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----';
    assert.deepEqual(only('api_key', `key: ${pem}\nend`), [pem]);
    // Inside JSON, with \n written as two characters.
    const json = JSON.stringify({ key: pem });
    assert.deepEqual(only('api_key', json), [JSON.stringify(pem).slice(1, -1)]);
    assert.deepEqual(only('api_key', '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----'), []);
  });
  test('rejects look-alikes', () => {
    assert.deepEqual(only('api_key', 'AKIA1234'), [], 'too short');
    assert.deepEqual(only('api_key', 'XAKIAIOSFODNN7EXAMPLE'), [], 'inside a word');
    assert.deepEqual(only('api_key', 'AKIAIOSFODNN7EXAMPLEX'), [], 'too long');
    assert.deepEqual(only('api_key', 'ghp_short'), []);
    assert.deepEqual(only('api_key', 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'), [], 'test keys are not secrets');
    assert.deepEqual(only('api_key', 'my_var_name and x_y_z'), []);
  });
});

describe('jwt', () => {
  const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const payload = Buffer.from('{"sub":"1234567890","name":"John"}').toString('base64url');
  const token = `${header}.${payload}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;
  test('finds a token with a JSON header', () => {
    assert.deepEqual(only('jwt', `Authorization: Bearer ${token}`), [token]);
    assert.deepEqual(only('jwt', `${header}.${payload}.`), [`${header}.${payload}.`], 'unsigned token');
  });
  test('rejects look-alikes', () => {
    const notJson = Buffer.from('eyJ-but-not-json!!').toString('base64url');
    assert.deepEqual(only('jwt', `eyJhbGciOi.abc.def`), []);
    assert.deepEqual(only('jwt', `${notJson}.${payload}.sig`), []);
    assert.deepEqual(only('jwt', `${header}.${payload}`), [], 'two segments');
    assert.deepEqual(only('jwt', `${header}.${payload}.sig.more`), [], 'four segments');
    const noAlg = Buffer.from('{"typ":"JWT"}').toString('base64url');
    assert.deepEqual(only('jwt', `${noAlg}.${payload}.sig`), []);
  });
});

describe('integer cells', () => {
  function integer(names: DetectorName[], v: string): number {
    const d = new Detectors(names);
    for (let k = 0; k < v.length; k++) d.digits[k] = v.charCodeAt(k);
    return d.integer(v.length);
  }
  test('card numbers, SSNs and NANP numbers', () => {
    assert.equal(DETECTOR_OF_ID[integer(['credit_card'], '4111111111111111')], 'credit_card');
    assert.equal(DETECTOR_OF_ID[integer(['ssn'], '536221234')], 'ssn');
    assert.equal(DETECTOR_OF_ID[integer(['phone'], '4155552671')], 'phone');
    assert.equal(DETECTOR_OF_ID[integer(['phone'], '14155552671')], 'phone');
  });
  test('not ordinary ids and timestamps', () => {
    assert.equal(integer(['credit_card', 'phone', 'ssn'], '1700000000'), -1);
    assert.equal(integer(['credit_card', 'phone', 'ssn'], '1700000000123'), -1);
    assert.equal(integer(['credit_card', 'phone', 'ssn'], '1234567890123456789'), -1);
    assert.equal(integer(['ssn'], '966221234'), -1);
    assert.equal(integer(['phone'], '1155552671'), -1);
  });
});

describe('scanning cost', () => {
  test('pathological inputs scan in linear time', () => {
    const cases = ['@'.repeat(200_000), 'a@'.repeat(100_000), '1 '.repeat(100_000), '+1'.repeat(100_000), 'eyJ.'.repeat(50_000), '-----'.repeat(40_000), 'AKIA'.repeat(50_000), 'DE89 '.repeat(40_000)];
    const d = new Detectors(['credit_card', 'email', 'ssn', 'iban', 'phone', 'api_key', 'jwt']);
    for (const c of cases) {
      const b = Buffer.from(c);
      const t = process.hrtime.bigint();
      d.scan(b, 0, b.length, []);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      assert.ok(ms < 500, `${c.slice(0, 6)}…: ${ms} ms`);
    }
  });
});
