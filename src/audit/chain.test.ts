import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  canonicalJson, encodePayload, keyId, recordHash, rowsSegment, signPayload, splitRows, verifyPayload, ZERO_HASH,
  type CheckpointPayload, type RecordLink,
} from './chain.ts';

describe('canonicalJson', () => {
  test('sorts keys at every depth and writes no whitespace', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  test('leaves out undefined and functions like JSON.stringify, and keeps array positions', () => {
    assert.equal(canonicalJson({ a: undefined, b: () => 1, c: null, d: [undefined, 1] }), '{"c":null,"d":[null,1]}');
  });

  test('orders keys by UTF-16 code units, as RFC 8785 does', () => {
    assert.equal(canonicalJson({ '\u00e9': 1, z: 2, Z: 3, '\ud83d\ude00': 4, '\uff21': 5 }), '{"Z":3,"z":2,"é":1,"😀":4,"Ａ":5}');
  });

  test('numbers and strings are written as ECMAScript JSON writes them; non-finite numbers as null', () => {
    assert.equal(canonicalJson([1e21, 0.1, -0, 1.5e-7, NaN, Infinity, 'a"\\\n\u2028\u0001']), '[1e+21,0.1,0,1.5e-7,null,null,"a\\"\\\\\\n\u2028\\u0001"]');
  });

  test('uses toJSON (a Buffer becomes its JSON form) and refuses bigint', () => {
    assert.equal(canonicalJson({ b: Buffer.from([1]) }), '{"b":{"data":[1],"type":"Buffer"}}');
    assert.throws(() => canonicalJson({ n: 1n }), /bigint/);
  });

  test('is stable: parsing and re-encoding gives the same text, and it parses back to an equal value', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const c = canonicalJson(v);
      assert.equal(canonicalJson(JSON.parse(c)), c);
      assert.deepEqual(JSON.parse(c), JSON.parse(JSON.stringify(v)));
    }));
  });

  test('sorts integer-like keys as strings (JavaScript objects put them first)', () => {
    assert.equal(canonicalJson(JSON.parse('{"":false,"10":1,"9":2}')), '{"":false,"10":1,"9":2}');
  });

  // An independent statement of the rules: sort, then write. canonicalJson takes a native shortcut when the keys
  // already come sorted; whichever way it goes, the text must be this.
  function reference(v: unknown): string | undefined {
    if (typeof v === 'bigint') throw new TypeError('bigint');
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
    if (v === null) return 'null';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
    if (typeof v !== 'object') return JSON.stringify(v);
    const o = v as { toJSON?: () => unknown };
    if (typeof o.toJSON === 'function') return reference(o.toJSON());
    if (Array.isArray(v)) return `[${v.map((x) => reference(x) ?? 'null').join(',')}]`;
    const parts: string[] = [];
    for (const k of Object.keys(v).sort()) {
      const x = reference((v as Record<string, unknown>)[k]);
      if (x !== undefined) parts.push(`${JSON.stringify(k)}:${x}`);
    }
    return `{${parts.join(',')}}`;
  }

  const sortedCopy = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortedCopy);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortedCopy((v as Record<string, unknown>)[k]);
    return out;
  };

  test('writes exactly the sorted encoding, whether or not the keys came sorted (property)', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('0', '9', '10', '01', '-1', '4294967295', 'a', 'é', '😀', ''));
    const leaf = fc.oneof(
      fc.jsonValue(), fc.constant(undefined), fc.constant(NaN), fc.constant(-0), fc.double(), fc.constant(() => 1),
      fc.date({ noInvalidDate: true }), fc.uint8Array({ maxLength: 3 }).map((a) => Buffer.from(a)),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 5 })),
    })).v;
    fc.assert(fc.property(value, (v) => {
      for (const x of [v, sortedCopy(v)]) assert.equal(canonicalJson(x), reference(x) ?? 'null');
    }), { numRuns: 3000 });
  });

  test('objects that are not plain (boxed strings, null prototypes, class instances, Maps) encode as the rules say', () => {
    const nullProto = Object.assign(Object.create(null) as object, { a: 1, b: [2] });
    class Point {
      x = 1;
      y = 2;
    }
    for (const v of [{ s: new String('ab') }, nullProto, { p: new Point() }, [new Map([['k', 1]])], { n: new Number(5) }]) {
      assert.equal(canonicalJson(v), reference(v));
    }
    assert.throws(() => canonicalJson({ a: 1, b: [{ c: 2n }] }), /bigint/);
  });

  test('nesting deeper than the shortcut looks is still written in full', () => {
    let v: unknown = { a: 1 };
    for (let i = 0; i < 100; i++) v = { k: [v] };
    assert.equal(canonicalJson(v), reference(v));
  });
});

describe('rows', () => {
  test('length-prefixed payloads split back into the same payloads', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (arrs) => {
      const payloads = arrs.map((a) => Buffer.from(a));
      const seg = rowsSegment(payloads);
      assert.equal(seg.length, payloads.reduce((n, p) => n + 4 + p.length, 0));
      assert.deepEqual(splitRows(seg, 0, seg.length), payloads);
    }));
  });

  test('a truncated segment is refused', () => {
    const seg = rowsSegment([Buffer.from('abc'), Buffer.from('de')]);
    assert.throws(() => splitRows(seg, 0, seg.length - 1), /truncated/);
    assert.throws(() => splitRows(seg, 0, 2), /truncated/);
  });
});

describe('recordHash', () => {
  const link: RecordLink = { stream: 'gw-1', position: 7, prev: Buffer.alloc(32, 1), sessionId: 's-1', seq: 3, sessPrev: Buffer.alloc(32, 2) };
  const body = '{"at":"2025-01-01T00:00:00.000Z","sql":"SELECT 1","type":"query"}';
  const rows = rowsSegment([Buffer.from([1, 0x31])]);

  test('is SHA-256 over the documented JSON array (checked with an independent computation)', () => {
    const sha = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');
    const input = `["agentgate.audit.v1","gw-1",7,"${'01'.repeat(32)}","s-1",3,"${'02'.repeat(32)}","${sha(body)}","${sha(rows)}"]`;
    assert.equal(recordHash(link, body, rows).toString('hex'), sha(input));
    const noRows = `["agentgate.audit.v1","gw-1",7,"${'01'.repeat(32)}","s-1",3,"${'02'.repeat(32)}","${sha(body)}",""]`;
    assert.equal(recordHash(link, body, null).toString('hex'), sha(noRows));
  });

  test('changes when any linked field, the body or the rows change', () => {
    const base = recordHash(link, body, rows);
    const variants: [RecordLink, string, Buffer | null][] = [
      [{ ...link, stream: 'gw-2' }, body, rows],
      [{ ...link, position: 8 }, body, rows],
      [{ ...link, prev: ZERO_HASH }, body, rows],
      [{ ...link, sessionId: 's-2' }, body, rows],
      [{ ...link, seq: 4 }, body, rows],
      [{ ...link, sessPrev: ZERO_HASH }, body, rows],
      [link, body.replace('1', '2'), rows],
      [link, body, rowsSegment([Buffer.from([1, 0x32])])],
      [link, body, null],
    ];
    for (const [l, b, r] of variants) assert.notDeepEqual(recordHash(l, b, r), base);
  });

  test('for any stream, session id and positions, is SHA-256 of JSON.stringify of the documented array (property)', () => {
    const sha = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');
    fc.assert(fc.property(
      fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.option(fc.uint8Array({ maxLength: 40 })), fc.string({ unit: 'binary' }),
      (stream, sessionId, position, seq, prev, r, b) => {
        const l: RecordLink = { stream, position, prev: Buffer.from(prev), sessionId, seq, sessPrev: ZERO_HASH };
        const rowBytes = r === null ? null : Buffer.from(r);
        const input = JSON.stringify(['agentgate.audit.v1', stream, position, Buffer.from(prev).toString('hex'), sessionId, seq,
          ZERO_HASH.toString('hex'), sha(b), rowBytes === null ? '' : sha(rowBytes)]);
        assert.equal(recordHash(l, b, rowBytes).toString('hex'), sha(input));
      },
    ), { numRuns: 500 });
  });

  test('linked to hashes it returned before, in any order, it hashes their own hex (checked independently)', () => {
    const sha = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');
    const expected = (l: RecordLink) =>
      sha(JSON.stringify(['agentgate.audit.v1', l.stream, l.position, l.prev.toString('hex'), l.sessionId, l.seq, l.sessPrev.toString('hex'), sha(body), '']));
    // Three sessions interleaved on one stream: each record's prev is the record before it, its sessPrev the
    // session's previous record, which may be one, two or three records back.
    const heads = new Map<string, Buffer>();
    let prev = ZERO_HASH;
    const order = ['a', 'b', 'a', 'c', 'c', 'b', 'a', 'b', 'c', 'a'];
    order.forEach((s, i) => {
      const l: RecordLink = { stream: 'gw-1', position: i + 1, prev, sessionId: s, seq: i, sessPrev: heads.get(s) ?? ZERO_HASH };
      const h = recordHash(l, body, null);
      assert.equal(h.toString('hex'), expected(l), `record ${i + 1}`);
      heads.set(s, h);
      prev = h;
    });
  });

  test('a session id cannot be confused with the fields around it', () => {
    const a = recordHash({ ...link, sessionId: 'x","y' }, body, null);
    const b = recordHash({ ...link, sessionId: 'x' }, body, null);
    assert.notDeepEqual(a, b);
  });
});

describe('signed payloads', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const p: CheckpointPayload = {
    type: 'checkpoint', v: 1, stream: 'gw-1', n: 1, position: 10, hash: 'ab'.repeat(32), prev: '', at: '2025-01-01T00:00:00.000Z',
    key: keyId(publicKey), sessions: [['s-1', 4, 'cd'.repeat(32), null, null]],
  };

  test('a signature verifies, and fails for any change of the payload or another key', () => {
    const text = encodePayload(p);
    const sig = signPayload(text, privateKey);
    assert.equal(verifyPayload(text, sig, publicKey), true);
    assert.equal(verifyPayload(encodePayload({ ...p, position: 11 }), sig, publicKey), false);
    assert.equal(verifyPayload(text, sig, generateKeyPairSync('ed25519').publicKey), false);
    assert.equal(verifyPayload(text, Buffer.alloc(3), publicKey), false);
  });

  test('a key id is the SHA-256 of the raw public key', () => {
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    assert.equal(keyId(publicKey), createHash('sha256').update(raw).digest('hex'));
  });
});
