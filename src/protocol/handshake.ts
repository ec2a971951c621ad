import { randomBytes } from 'node:crypto';
import { Reader, Writer } from './buffer.ts';
import { Cap } from './constants.ts';
import { ProtocolError } from './errors.ts';

/** Connection phase: initial handshake (v10), handshake response (4.1), SSL request, auth switch, auth more data. */

export interface Greeting {
  serverVersion: string;
  connectionId: number;
  /** 20 bytes of scramble. */
  nonce: Buffer;
  capabilities: number;
  charset: number;
  status: number;
  authPlugin: string;
  /** MariaDB extended capabilities (only when the server clears CLIENT_LONG_PASSWORD). */
  mariadbCapabilities: number;
}

/**
 * A fresh 20-byte scramble. Bytes are 1..127 and never '$' or NUL, as servers make them: some clients treat the
 * scramble as a NUL-terminated string.
 */
export function makeNonce(): Buffer {
  const b = randomBytes(20);
  for (let i = 0; i < b.length; i++) {
    let c = b[i]! & 0x7f;
    if (c === 0 || c === 0x24) c = 0x41 + (i % 26);
    b[i] = c;
  }
  return b;
}

export function encodeGreeting(g: Greeting): Buffer {
  const w = new Writer(128);
  w.u8(10).nulStr(g.serverVersion).u32(g.connectionId);
  w.bytes(g.nonce.subarray(0, 8)).u8(0);
  w.u16(g.capabilities & 0xffff).u8(g.charset).u16(g.status).u16((g.capabilities >>> 16) & 0xffff);
  w.u8(g.capabilities & Cap.PLUGIN_AUTH ? g.nonce.length + 1 : 0);
  w.zeros(6).u32(g.mariadbCapabilities);
  if (g.capabilities & Cap.SECURE_CONNECTION) {
    w.bytes(g.nonce.subarray(8)).u8(0);
  }
  if (g.capabilities & Cap.PLUGIN_AUTH) w.nulStr(g.authPlugin);
  return w.finish();
}

export function decodeGreeting(payload: Buffer): Greeting {
  const r = new Reader(payload);
  const proto = r.u8('protocol version');
  if (proto === 0xff) {
    // The server refused us before the handshake (too many connections, host blocked, …).
    throw new ProtocolError(`server refused the connection: ${payload.subarray(3).toString('utf8').replace(/^#\w{5}/, '')}`);
  }
  if (proto !== 10) throw new ProtocolError(`unsupported handshake protocol version ${proto}`);
  const serverVersion = r.nulString('server version');
  const connectionId = r.u32('connection id');
  const part1 = r.bytes(8, 'scramble');
  r.skip(1);
  let capabilities = r.u16('capabilities');
  let charset = 0;
  let status = 0;
  let authDataLen = 0;
  let mariadbCapabilities = 0;
  let part2: Buffer = Buffer.alloc(0);
  let authPlugin = 'mysql_native_password';
  if (!r.atEnd()) {
    charset = r.u8('charset');
    status = r.u16('status');
    capabilities = (capabilities | (r.u16('capabilities') << 16)) >>> 0;
    authDataLen = r.u8('auth data length');
    r.skip(6);
    mariadbCapabilities = r.u32('extended capabilities');
    if (capabilities & Cap.LONG_PASSWORD) mariadbCapabilities = 0;
    if (capabilities & Cap.SECURE_CONNECTION) {
      const n = Math.max(13, authDataLen - 8);
      part2 = r.bytes(Math.min(n, r.remaining), 'scramble');
      // The scramble is 20 bytes; the 13th byte of part 2 is a NUL terminator.
      if (part2.length > 0 && part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
    }
    if (capabilities & Cap.PLUGIN_AUTH) authPlugin = r.nulString('auth plugin', true);
  }
  return {
    serverVersion,
    connectionId,
    nonce: Buffer.concat([part1, part2]),
    capabilities,
    charset,
    status,
    authPlugin,
    mariadbCapabilities,
  };
}

export interface HandshakeResponse {
  capabilities: number;
  /** MariaDB extended capabilities (when the client cleared CLIENT_LONG_PASSWORD). */
  mariadbCapabilities: number;
  maxPacket: number;
  charset: number;
  /** Only when the client set just the SSL request (32 bytes) and will upgrade to TLS. */
  sslRequest: boolean;
  user: string;
  authResponse: Buffer;
  database: string | null;
  authPlugin: string | null;
  attributes: Map<string, string>;
}

/** Decodes a HandshakeResponse41, or the 32-byte SSLRequest that precedes it on TLS connections. */
export function decodeHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new Reader(payload);
  const capabilities = r.u32('client capabilities');
  if (!(capabilities & Cap.PROTOCOL_41)) {
    throw new ProtocolError('client does not speak protocol 4.1 (CLIENT_PROTOCOL_41 not set)');
  }
  const maxPacket = r.u32('max packet size');
  const charset = r.u8('charset');
  r.skip(19, 'filler');
  const ext = r.u32('extended capabilities');
  const base = {
    capabilities,
    mariadbCapabilities: capabilities & Cap.LONG_PASSWORD ? 0 : ext,
    maxPacket,
    charset,
    user: '',
    authResponse: Buffer.alloc(0),
    database: null,
    authPlugin: null,
    attributes: new Map<string, string>(),
  };
  if (r.atEnd()) {
    if (!(capabilities & Cap.SSL)) throw new ProtocolError('handshake response ends before the user name');
    return { ...base, sslRequest: true };
  }
  const user = r.nulString('user name', true);
  let authResponse: Buffer = Buffer.alloc(0);
  if (!r.atEnd()) {
    if (capabilities & Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = r.lenencBytes('auth response');
    else if (capabilities & Cap.SECURE_CONNECTION) authResponse = r.bytes(r.u8('auth response length'), 'auth response');
    else authResponse = r.nulBytes('auth response', true);
  }
  let database: string | null = null;
  if (capabilities & Cap.CONNECT_WITH_DB && !r.atEnd()) database = r.nulString('database', true);
  let authPlugin: string | null = null;
  if (capabilities & Cap.PLUGIN_AUTH && !r.atEnd()) authPlugin = r.nulString('auth plugin', true);
  const attributes = new Map<string, string>();
  if (capabilities & Cap.CONNECT_ATTRS && !r.atEnd()) {
    const len = r.lenenc('connection attributes length');
    const a = new Reader(r.bytes(len, 'connection attributes'));
    while (!a.atEnd()) {
      const k = a.lenencString('attribute name');
      const v = a.lenencString('attribute value');
      attributes.set(k, v);
    }
  }
  return { ...base, sslRequest: false, user, authResponse, database, authPlugin, attributes };
}

export interface HandshakeResponseOut {
  capabilities: number;
  /** MariaDB extended capabilities; non-zero clears CLIENT_LONG_PASSWORD, as MariaDB clients do. */
  mariadbCapabilities?: number;
  maxPacket: number;
  charset: number;
  user: string;
  authResponse: Buffer;
  database: string | null;
  authPlugin: string;
  attributes: Map<string, string>;
}

/** The 32-byte SSLRequest. */
export function encodeSslRequest(capabilities: number, maxPacket: number, charset: number): Buffer {
  return new Writer(32).u32(capabilities | Cap.SSL).u32(maxPacket).u8(charset).zeros(23).finish();
}

export function encodeHandshakeResponse(h: HandshakeResponseOut): Buffer {
  let caps = h.capabilities >>> 0;
  const ext = h.mariadbCapabilities ?? 0;
  if (ext) caps &= ~Cap.LONG_PASSWORD;
  if (h.database) caps |= Cap.CONNECT_WITH_DB;
  else caps &= ~Cap.CONNECT_WITH_DB;
  caps >>>= 0;
  const w = new Writer(256);
  w.u32(caps).u32(h.maxPacket).u8(h.charset).zeros(19).u32(ext);
  w.nulStr(h.user);
  if (caps & Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(h.authResponse);
  else w.u8(h.authResponse.length).bytes(h.authResponse);
  if (caps & Cap.CONNECT_WITH_DB) w.nulStr(h.database ?? '');
  if (caps & Cap.PLUGIN_AUTH) w.nulStr(h.authPlugin);
  if (caps & Cap.CONNECT_ATTRS) {
    const a = new Writer(256);
    for (const [k, v] of h.attributes) a.lenencStr(k).lenencStr(v);
    w.lenencBytes(a.finish());
  }
  return w.finish();
}

/** AuthSwitchRequest: 0xfe, plugin name, plugin data. */
export function encodeAuthSwitch(plugin: string, data: Buffer): Buffer {
  return new Writer(64).u8(0xfe).nulStr(plugin).bytes(data).finish();
}

export function decodeAuthSwitch(payload: Buffer): { plugin: string; data: Buffer } {
  const r = new Reader(payload);
  r.u8('auth switch header');
  if (r.atEnd()) return { plugin: 'mysql_old_password', data: Buffer.alloc(0) };
  const plugin = r.nulString('auth plugin name');
  let data = r.rest();
  // A 20-byte scramble (mysql_native_password, caching_sha2_password) comes with a NUL terminator. Other plugins'
  // data is taken as sent: client_ed25519's 32-byte nonce is random and may well end in a zero byte.
  if (data.length === 21 && data[20] === 0) data = data.subarray(0, 20);
  return { plugin, data };
}

/** AuthMoreData: 0x01 then plugin-specific bytes. */
export function encodeAuthMoreData(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x01]), data]);
}
