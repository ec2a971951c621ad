import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateKeyPairSync, createPublicKey, randomBytes, verify } from 'node:crypto';
import { decodeGreeting, decodeHandshakeResponse, encodeGreeting, encodeHandshakeResponse, encodeSslRequest, makeNonce, decodeAuthSwitch, encodeAuthSwitch } from './handshake.ts';
import { Cap, GATEWAY_CAPABILITIES } from './constants.ts';
import { nativeScramble, cachingSha2Scramble, rsaDecryptKey, rsaDecryptPassword, rsaEncryptPassword, cleartextPassword } from './auth.ts';
import { ed25519PublicKey, ed25519Response } from './ed25519.ts';
import { decodeCommand, decodeExecute, decodeChangeUser, encodeChangeUser } from './commands.ts';
import { decodeColumnDefinition } from './columns.ts';
import { decodeOk, decodeErr } from './packets.ts';
import { ProtocolError } from './errors.ts';
import { Writer } from './buffer.ts';
import { Type } from './constants.ts';

test('greeting: encode then decode keeps version, id, scramble, capabilities and plugin', () => {
  const nonce = makeNonce();
  const g = { serverVersion: '5.5.5-10.11.19-MariaDB', connectionId: 42, nonce, capabilities: GATEWAY_CAPABILITIES | Cap.SSL, charset: 45, status: 2, authPlugin: 'mysql_native_password', mariadbCapabilities: 0 };
  const d = decodeGreeting(encodeGreeting(g));
  assert.equal(d.serverVersion, g.serverVersion);
  assert.equal(d.connectionId, 42);
  assert.deepEqual(d.nonce, nonce);
  assert.equal(d.capabilities, g.capabilities >>> 0);
  assert.equal(d.authPlugin, 'mysql_native_password');
  for (const b of nonce) assert.ok(b > 0 && b < 128 && b !== 0x24, 'scramble bytes are 1..127 and never $');
});

test('handshake response: attributes, database, plugin and lenenc auth data round-trip; SSL request is recognised', () => {
  const caps = (GATEWAY_CAPABILITIES | Cap.CONNECT_WITH_DB) >>> 0;
  const enc = encodeHandshakeResponse({ capabilities: caps, maxPacket: 1 << 24, charset: 45, user: 'agent', authResponse: Buffer.alloc(300, 7), database: 'app', authPlugin: 'caching_sha2_password', attributes: new Map([['_client_name', 'x'], ['program_name', 'y']]) });
  const d = decodeHandshakeResponse(enc);
  assert.equal(d.user, 'agent');
  assert.equal(d.database, 'app');
  assert.equal(d.authPlugin, 'caching_sha2_password');
  assert.equal(d.authResponse.length, 300);
  assert.equal(d.attributes.get('program_name'), 'y');
  assert.equal(d.sslRequest, false);
  assert.equal(decodeHandshakeResponse(encodeSslRequest(caps, 1 << 24, 45)).sslRequest, true);
});

test('a pre-4.1 client is refused with a ProtocolError', () => {
  const w = new Writer().u32(Cap.LONG_PASSWORD).u32(0).u8(8).zeros(23).nulStr('u').finish();
  assert.throws(() => decodeHandshakeResponse(w), ProtocolError);
});

test('mysql_native_password and caching_sha2_password scrambles match known vectors', () => {
  // Password "password" with an all-'a' nonce, computed independently:
  // SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))) and SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce).
  const nonce = Buffer.alloc(20, 0x61);
  assert.equal(nativeScramble('password', nonce).toString('hex'), 'a552740436140dffd4354db0f876689d93f75852');
  assert.equal(cachingSha2Scramble('password', nonce).toString('hex'), '1cc8c672d1261d8c69b7962c8c1b9d00b383b4de2dcc4278ea02d6f722386acf');
  // The nonce may arrive NUL-terminated: only its 20 bytes count.
  assert.deepEqual(nativeScramble('password', Buffer.concat([nonce, Buffer.from([0])])), nativeScramble('password', nonce));
  assert.equal(nativeScramble('', nonce).length, 0);
  assert.equal(cachingSha2Scramble('', nonce).length, 0);
});

test('RSA exchange: what a client encrypts with the public key decrypts to the password', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const nonce = makeNonce();
  const jwtish = 'eyJ' + 'a'.repeat(150);
  const c = rsaEncryptPassword(jwtish, nonce, publicKey.export({ type: 'spki', format: 'pem' }).toString());
  assert.equal(await rsaDecryptPassword(c, nonce, await rsaDecryptKey(privateKey)), jwtish);
  await assert.rejects(rsaDecryptPassword(Buffer.from(c).fill(7, 0, 8), nonce, await rsaDecryptKey(privateKey)));
  assert.equal(cleartextPassword(Buffer.from('abc\0')), 'abc');
});

test('client_ed25519: the response verifies against the public key MariaDB derives from the password', () => {
  const nonce = makeNonce().subarray(0, 20);
  const pub = ed25519PublicKey('s3cret pw');
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
  assert.ok(verify(null, nonce, key, ed25519Response('s3cret pw', nonce)));
  assert.ok(!verify(null, nonce, key, ed25519Response('other', nonce)));
});

test('auth switch round-trip strips the trailing NUL of the scramble', () => {
  const n = makeNonce();
  const d = decodeAuthSwitch(encodeAuthSwitch('caching_sha2_password', Buffer.concat([n, Buffer.from([0])])));
  assert.equal(d.plugin, 'caching_sha2_password');
  assert.deepEqual(d.data, n);
  // client_ed25519's 32-byte nonce has no terminator: a last byte that happens to be zero is part of it.
  const ed = Buffer.concat([randomBytes(31), Buffer.from([0])]);
  assert.deepEqual(decodeAuthSwitch(encodeAuthSwitch('client_ed25519', ed)).data, ed);
});

test('COM_STMT_EXECUTE: types bound once are reused, NULLs and long data are honoured', () => {
  // stmt 7, no cursor, 1 iteration, 3 params: NULL bitmap 0b010 (param 2 NULL), new types bound
  const first = new Writer().u8(0x17).u32(7).u8(0).u32(1).u8(0b010).u8(1)
    .u8(Type.LONGLONG).u8(0x80).u8(Type.VAR_STRING).u8(0).u8(Type.BLOB).u8(0)
    .u64(18446744073709551615n) // unsigned max
    .finish();
  const r1 = decodeExecute(first, 3, null, new Map([[2, Buffer.from([0, 1, 2])]]));
  assert.equal(r1.newTypes, true);
  assert.deepEqual(r1.params, [
    { type: 'LONGLONG', value: '18446744073709551615', unsigned: true },
    { type: 'VAR_STRING', value: null },
    { type: 'BLOB', value: Buffer.from([0, 1, 2]).toString('base64'), encoding: 'base64' },
  ]);
  const second = new Writer().u8(0x17).u32(7).u8(0).u32(1).u8(0).u8(0).u64(5n).lenencStr('x').lenencStr('yz').finish();
  const r2 = decodeExecute(second, 3, r1.types, new Map());
  assert.deepEqual(r2.params.map((p) => p.value), [5, 'x', 'eXo=']);
  assert.throws(() => decodeExecute(second, 3, null, new Map()), ProtocolError);
});

test('COM_CHANGE_USER round-trip', () => {
  const caps = GATEWAY_CAPABILITIES;
  const p = encodeChangeUser({ user: 'bob', authResponse: Buffer.alloc(20, 1), database: 'app', charset: 45, authPlugin: 'mysql_native_password', attributes: new Map([['a', 'b']]) }, caps);
  const d = decodeChangeUser(p, caps);
  assert.equal(d.user, 'bob');
  assert.equal(d.database, 'app');
  assert.equal(d.authPlugin, 'mysql_native_password');
  assert.equal(d.attributes.get('a'), 'b');
  assert.equal(decodeCommand(p).kind, 'change_user');
});

test('decoders given arbitrary bytes throw nothing but ProtocolError (fuzz)', () => {
  const decoders: ((b: Buffer) => unknown)[] = [
    decodeGreeting, decodeHandshakeResponse, decodeColumnDefinition, decodeErr,
    (b) => decodeOk(b, GATEWAY_CAPABILITIES), (b) => decodeCommand(b), (b) => decodeChangeUser(b, GATEWAY_CAPABILITIES),
    (b) => decodeExecute(b, 3, null, new Map()),
  ];
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
    const b = Buffer.from(a);
    for (const d of decoders) {
      try {
        d(b);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw new Error(`${d.name || 'decoder'} threw ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  }), { numRuns: 3000 });
});

test('COM_STMT_BULK_EXECUTE: types, then rows of indicator + value', async () => {
  const { decodeBulkExecute, BulkFlag } = await import('./commands.ts');
  const p = new Writer().u8(0xfa).u32(3).u16(BulkFlag.SEND_TYPES_TO_SERVER)
    .u8(Type.LONG).u8(0).u8(Type.VAR_STRING).u8(0)
    .u8(0).u32(1).u8(0).lenencStr('a')
    .u8(1).u8(2)
    .finish();
  const r = decodeBulkExecute(p, 2, null);
  assert.equal(r.stmtId, 3);
  assert.deepEqual(r.rows, [
    [{ type: 'LONG', value: 1 }, { type: 'VAR_STRING', value: 'a' }],
    [{ type: 'LONG', value: null }, { type: 'DEFAULT', value: null }],
  ]);
  assert.throws(() => decodeBulkExecute(new Writer().u8(0xfa).u32(3).u16(0).finish(), 2, null), ProtocolError);
});
