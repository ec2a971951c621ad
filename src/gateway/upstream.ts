import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TargetConfig } from '../config/types.ts';
import type { ServerFlavor } from '../sql/types.ts';
import { Cap, Com, GATEWAY_CAPABILITIES, GATEWAY_MARIADB_CAPABILITIES } from '../protocol/constants.ts';
import { encodeChangeUser, type ChangeUser } from '../protocol/commands.ts';
import {
  decodeAuthSwitch,
  decodeGreeting,
  encodeHandshakeResponse,
  encodeSslRequest,
  type Greeting,
} from '../protocol/handshake.ts';
import { Plugin, Sha2, cachingSha2Scramble, nativeScramble, rsaEncryptPassword } from '../protocol/auth.ts';
import { ed25519Response } from '../protocol/ed25519.ts';
import { decodeErr, type ErrPacket } from '../protocol/packets.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { PacketConn } from './conn.ts';
import { sharedReadOption, type ReadSink } from './buffers.ts';

/** What the gateway knows of a target's server: learned from its greeting, refreshed on every login. */
export interface ServerInfo {
  version: string;
  capabilities: number;
  /** MariaDB extended capabilities the server offers. */
  mariadbCapabilities: number;
  charset: number;
  flavor: ServerFlavor;
}

/** The upstream refused the gateway's login, or could not be reached. Messages never contain the credential. */
export class UpstreamError extends Error {
  readonly err: ErrPacket | null;
  constructor(message: string, err: ErrPacket | null = null) {
    super(message);
    this.name = 'UpstreamError';
    this.err = err;
  }
}

export interface UpstreamLogin {
  /** Capabilities the client negotiated with the gateway; the upstream gets the same result-shaping ones. */
  capabilities: number;
  /** MariaDB extended capabilities the client negotiated (the upstream gets those the server also has). */
  mariadbCapabilities?: number;
  charset: number;
  maxPacket: number;
  database: string | null;
  attributes: Map<string, string>;
  /** Largest message the gateway accepts from the server. */
  maxMessage: number;
}

export interface Upstream {
  conn: PacketConn;
  greeting: Greeting;
  info: ServerInfo;
  /** Capabilities in effect on this connection. */
  capabilities: number;
  mariadbCapabilities: number;
  /** The server's final OK packet of the login (forwarded to the client, with its session state). */
  ok: Buffer;
  tls: boolean;
}

/** Parses "10.11.19-MariaDB-…" (MariaDB may prefix "5.5.5-") into 101119 and the flavor. */
export function serverFlavor(version: string): ServerFlavor {
  const v = version.replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  const num = m ? Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]) : 0;
  return { version: num, mariadb: /mariadb/i.test(version) };
}

function infoOf(g: Greeting): ServerInfo {
  return { version: g.serverVersion, capabilities: g.capabilities, mariadbCapabilities: g.mariadbCapabilities, charset: g.charset, flavor: serverFlavor(g.serverVersion) };
}

function tcpConnect(host: string, port: number, timeoutMs: number, sink?: ReadSink): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port, noDelay: true, ...(sink ? { onread: sharedReadOption(sink) } : {}) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new UpstreamError(`cannot reach ${host}:${port}: timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.setKeepAlive(true, 30_000);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(new UpstreamError(`cannot reach ${host}:${port}: ${e.message}`));
    });
  });
}

/** The capabilities the gateway asks the upstream for, given what the client agreed to. */
export function upstreamCapabilities(client: number, server: number): number {
  const wanted = (client & GATEWAY_CAPABILITIES) | Cap.LONG_PASSWORD | Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION |
    Cap.PLUGIN_AUTH | Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA | Cap.TRANSACTIONS;
  // CONNECT_WITH_DB is set by the encoder when a database is given; SSL by the TLS decision.
  return (wanted & server & ~Cap.CONNECT_WITH_DB & ~Cap.SSL) >>> 0;
}

/** Capabilities that change the shape of results: the client and the upstream must agree on every one of them. */
export const RESULT_SHAPING = (Cap.DEPRECATE_EOF | Cap.SESSION_TRACK | Cap.MULTI_RESULTS | Cap.PS_MULTI_RESULTS | Cap.PROTOCOL_41) >>> 0;

/**
 * Connects to the target's server and logs in with the vaulted credential: TLS per the target's mode, then the
 * server's auth plugin (mysql_native_password, caching_sha2_password with the RSA exchange, client_ed25519), with
 * auth switches.
 */
export async function connectUpstream(target: TargetConfig, login: UpstreamLogin): Promise<Upstream> {
  const up = target.upstream;
  const deadline = setTimeout(() => conn?.destroy('login timed out'), up.connectTimeout);
  let conn: PacketConn | undefined;
  try {
    // Plaintext upstreams read into the shared buffer (no allocation per read; see buffers.ts). A TLS upstream is
    // read through its TLS layer, which allocates its own buffers.
    const sink: ReadSink | undefined = up.tls === 'disabled' ? { fn: null } : undefined;
    const socket = await tcpConnect(up.host, up.port, up.connectTimeout, sink);
    conn = new PacketConn(socket, login.maxMessage, sink);
    const hello = await conn.readPacket();
    if (hello.payload[0] === 0xff) {
      const e = decodeErr(hello.payload);
      throw new UpstreamError(`${up.host}:${up.port} refused the connection: ${e.message}`, e);
    }
    const greeting = decodeGreeting(hello.payload);
    const info = infoOf(greeting);
    let caps = upstreamCapabilities(login.capabilities, greeting.capabilities);
    const ext = (login.mariadbCapabilities ?? 0) & greeting.mariadbCapabilities & GATEWAY_MARIADB_CAPABILITIES;
    if ((login.mariadbCapabilities ?? 0) & ~ext) {
      throw new UpstreamError('the server no longer offers the MariaDB capabilities the client agreed to; reconnect');
    }
    const shapingMissing = login.capabilities & RESULT_SHAPING & ~caps;
    if (shapingMissing) {
      throw new UpstreamError(`the server no longer offers capabilities 0x${shapingMissing.toString(16)} the client agreed to; reconnect`);
    }
    let seq = 1;
    let tls = false;
    const serverTls = (greeting.capabilities & Cap.SSL) !== 0;
    if (up.tls === 'required' || up.tls === 'verify') {
      if (!serverTls) throw new UpstreamError(`${up.host}:${up.port} does not offer TLS, and upstream.tls is "${up.tls}"`);
    }
    if (serverTls && up.tls !== 'disabled') {
      caps = (caps | Cap.SSL) >>> 0;
      seq = conn.send(encodeSslRequest(caps, login.maxPacket, login.charset), seq);
      const raw = conn.detachForUpgrade();
      const secure = tlsConnect({
        socket: raw,
        servername: /^[\d.:]+$/.test(up.host) ? undefined : up.host,
        ca: up.caPem,
        rejectUnauthorized: up.tls === 'verify',
        // For verify with an IP address, Node checks the certificate's IP SANs.
        ...(up.tls === 'verify' ? {} : { checkServerIdentity: () => undefined }),
      });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', (e) => reject(new UpstreamError(`TLS with ${up.host}:${up.port} failed: ${e.message}`)));
      });
      conn.reattach(secure);
      tls = true;
    }
    const password = up.password;
    let plugin = greeting.authPlugin;
    const nonce = greeting.nonce;
    const first = authResponse(plugin, password, nonce, tls);
    seq = conn.send(
      encodeHandshakeResponse({
        capabilities: caps,
        maxPacket: login.maxPacket,
        charset: login.charset,
        user: up.user,
        authResponse: first ?? nativeScramble(password, nonce),
        database: login.database,
        authPlugin: first ? plugin : Plugin.NATIVE,
        attributes: login.attributes,
        mariadbCapabilities: ext,
      }),
      seq,
    );
    if (!first) plugin = Plugin.NATIVE;
    const ok = await authLoop(conn, seq, plugin, nonce, up.password, tls, `${up.host}:${up.port}`, up.user);
    return { conn, greeting, info, capabilities: caps & ~Cap.SSL, mariadbCapabilities: ext, ok, tls };
  } catch (e) {
    conn?.destroy('login failed');
    if (e instanceof UpstreamError || e instanceof ProtocolError) throw e;
    throw new UpstreamError(`login to ${up.host}:${up.port} failed: ${(e as Error).message}`);
  } finally {
    clearTimeout(deadline);
  }
}

/**
 * The authentication exchange after the gateway's first response: auth switches, caching_sha2 full authentication
 * (the password over TLS, or RSA-encrypted with the server's key), until the server's OK (returned) or ERR (thrown).
 */
async function authLoop(conn: PacketConn, seq: number, plugin: string, nonce: Buffer, password: string, tls: boolean, where: string, user: string): Promise<Buffer> {
  for (;;) {
    const p = await conn.readPacket();
    if (p.seq !== seq) throw new ProtocolError(`upstream sent sequence id ${p.seq}, expected ${seq}`);
    seq = (seq + 1) & 0xff;
    const b0 = p.payload[0];
    if (b0 === 0x00) return Buffer.from(p.payload);
    if (b0 === 0xff) {
      const e = decodeErr(p.payload);
      throw new UpstreamError(`${where} refused the gateway's login as "${user}": ${e.message}`, e);
    }
    if (b0 === 0xfe) {
      const sw = decodeAuthSwitch(p.payload);
      plugin = sw.plugin;
      nonce = sw.data;
      const resp = authResponse(plugin, password, nonce, tls);
      if (!resp) throw new UpstreamError(`the server asks for auth plugin "${plugin}", which the gateway does not support`);
      seq = conn.send(resp, seq);
      continue;
    }
    if (b0 === 0x01 && plugin === Plugin.CACHING_SHA2) {
      const status = p.payload[1];
      if (status === Sha2.FAST_AUTH_SUCCESS) continue; // the OK follows
      if (status === Sha2.PERFORM_FULL_AUTHENTICATION) {
        if (tls) {
          seq = conn.send(Buffer.from(password + '\0', 'utf8'), seq);
        } else {
          seq = conn.send(Buffer.from([Sha2.REQUEST_PUBLIC_KEY]), seq);
          const keyPacket = await conn.readPacket();
          seq = (keyPacket.seq + 1) & 0xff;
          if (keyPacket.payload[0] !== 0x01) throw new UpstreamError('the server did not send its public key');
          const pem = keyPacket.payload.subarray(1).toString('latin1');
          seq = conn.send(rsaEncryptPassword(password, nonce, pem), seq);
        }
        continue;
      }
      throw new ProtocolError(`unexpected caching_sha2_password message 0x${(status ?? 0).toString(16)}`);
    }
    throw new ProtocolError(`unexpected packet 0x${(b0 ?? 0).toString(16)} during upstream login`);
  }
}

/**
 * COM_CHANGE_USER on an established upstream connection, logging in again with the vaulted credential (which resets
 * the server-side session). `cmd` is the encoded command whose auth response is replaced here. Returns the OK.
 */
export async function upstreamAuth(up: Upstream, target: TargetConfig, cmd: ChangeUser): Promise<Buffer> {
  const u = target.upstream;
  const plugin = up.greeting.authPlugin;
  const resp = authResponse(plugin, u.password, up.greeting.nonce, up.tls);
  const payload = encodeChangeUser({ ...cmd, user: u.user, authResponse: resp ?? nativeScramble(u.password, up.greeting.nonce), authPlugin: resp ? plugin : Plugin.NATIVE }, up.capabilities);
  const seq = up.conn.send(payload, 0);
  return authLoop(up.conn, seq, resp ? plugin : Plugin.NATIVE, up.greeting.nonce, u.password, up.tls, `${u.host}:${u.port}`, u.user);
}

/** The first auth response for a plugin, or null when the gateway does not speak it. */
function authResponse(plugin: string, password: string, nonce: Buffer, tls: boolean): Buffer | null {
  switch (plugin) {
    case Plugin.NATIVE:
      return nativeScramble(password, nonce);
    case Plugin.CACHING_SHA2:
      return cachingSha2Scramble(password, nonce);
    case Plugin.ED25519:
      return ed25519Response(password, nonce);
    case Plugin.CLEAR:
      // Never send the vaulted credential in clear over plaintext.
      return tls ? Buffer.from(password + '\0', 'utf8') : null;
    default:
      return null;
  }
}

/** Logs in once and quits: learns the server's version and capabilities, and checks the credential. */
export async function probeUpstream(target: TargetConfig): Promise<ServerInfo> {
  const u = await connectUpstream(target, {
    capabilities: GATEWAY_CAPABILITIES,
    charset: 45,
    maxPacket: 16 * 1024 * 1024,
    database: null,
    attributes: new Map([['program_name', 'agentgate']]),
    maxMessage: 16 * 1024 * 1024,
  });
  u.conn.send(Buffer.from([Com.QUIT]), 0);
  u.conn.end('probe done');
  return u.info;
}
