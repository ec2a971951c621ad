import { TLSSocket, type SecureContext } from 'node:tls';
import type { KeyObject, webcrypto } from 'node:crypto';
import { Cap, DEFAULT_CHARSET, GATEWAY_CAPABILITIES, GATEWAY_MARIADB_CAPABILITIES, Status } from '../protocol/constants.ts';
import {
  decodeHandshakeResponse,
  encodeAuthMoreData,
  encodeAuthSwitch,
  encodeGreeting,
  makeNonce,
  type HandshakeResponse,
} from '../protocol/handshake.ts';
import { Plugin, Sha2, cleartextPassword, rsaDecryptPassword } from '../protocol/auth.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { LoginRefused, type Identity } from '../identity/types.ts';
import type { ServiceAccountConfig } from '../config/types.ts';
import type { PacketConn } from './conn.ts';
import type { ServerInfo } from './upstream.ts';

/** What the login needs from identity (src/identity implements it). */
export interface Authenticator {
  serviceAccount(user: string): ServiceAccountConfig | undefined;
  verifyPassword(user: string, password: string): Promise<Identity>;
  verifyNativeScramble(user: string, nonce: Buffer, scramble: Buffer): Identity;
}

/** The RSA key pair of the caching_sha2_password public-key exchange. */
export interface RsaKey {
  privateKey: KeyObject;
  /** The same key, for decrypting off the event loop (rsaDecryptKey). */
  decryptKey: webcrypto.CryptoKey;
  publicPem: string;
  /** Modulus size in bytes: the ciphertext length. */
  size: number;
}

export interface LoginContext {
  server: ServerInfo;
  connectionId: number;
  /** Client-facing TLS, when configured. */
  tls: SecureContext | null;
  requireTls: boolean;
  auth: Authenticator;
  rsa: () => Promise<RsaKey>;
}

export interface LoginResult {
  identity: Identity;
  handshake: HandshakeResponse;
  /** Capabilities agreed with the client. */
  capabilities: number;
  mariadbCapabilities: number;
  /** Sequence id for the gateway's next packet (the OK or an error). */
  seq: number;
  tls: boolean;
  /** How the secret was obtained, for the connect record. */
  plugin: string;
}

/** A refused login, with the user name the client gave and the sequence id for the error packet. */
export class ClientRefused extends LoginRefused {
  readonly user: string;
  readonly seq: number;
  constructor(user: string, reason: string, seq: number) {
    super(reason);
    this.user = user;
    this.seq = seq;
  }
}

/** Bits the gateway handles itself at login, whatever the server offers. */
const AUTH_BITS = (Cap.LONG_PASSWORD | Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH |
  Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA | Cap.CONNECT_ATTRS | Cap.TRANSACTIONS | Cap.RESERVED | Cap.INTERACTIVE |
  Cap.IGNORE_SIGPIPE) >>> 0;

/** What the gateway offers a client: what it supports, limited by what the server supports for result shaping. */
export function offeredCapabilities(server: ServerInfo, tls: boolean): number {
  let caps = GATEWAY_CAPABILITIES & (server.capabilities | AUTH_BITS);
  if (tls) caps |= Cap.SSL;
  return caps >>> 0;
}

/** A user name fit for an error message: never echo something that looks like a token. */
export function displayUser(user: string): string {
  if (/^[\w-]+\.[\w-]+\.[\w-]+$/.test(user) && user.length > 40) return '(a token)';
  return user.length > 64 ? `${user.slice(0, 64)}…` : user;
}

/** Decides how to get the client's secret and checks it. Runs at login and on COM_CHANGE_USER. */
export class AuthExchange {
  private readonly conn: PacketConn;
  private readonly ctx: LoginContext;
  private readonly tls: boolean;
  seq: number;
  nonce: Buffer;
  plugin = '';

  constructor(conn: PacketConn, ctx: LoginContext, tls: boolean, seq: number, nonce: Buffer) {
    this.conn = conn;
    this.ctx = ctx;
    this.tls = tls;
    this.seq = seq;
    this.nonce = nonce;
  }

  private async reply(): Promise<Buffer> {
    const p = await this.conn.readPacket();
    if (p.seq !== this.seq) throw new ProtocolError(`packet out of order during login: sequence id ${p.seq}, expected ${this.seq}`);
    this.seq = (this.seq + 1) & 0xff;
    return Buffer.from(p.payload);
  }

  private send(payload: Buffer): void {
    this.seq = this.conn.send(payload, this.seq);
  }

  /** Auth switch to `plugin` with a fresh nonce; returns the client's answer. */
  private async switchTo(plugin: string): Promise<Buffer> {
    this.nonce = makeNonce();
    this.plugin = plugin;
    this.send(encodeAuthSwitch(plugin, Buffer.concat([this.nonce, Buffer.from([0])])));
    return this.reply();
  }

  /**
   * caching_sha2_password full authentication: the scramble the client sent is ignored (the gateway never caches
   * secrets); over TLS the client then sends the secret, over plaintext the secret comes RSA-encrypted.
   */
  private async sha2FullAuth(): Promise<string> {
    this.plugin = Plugin.CACHING_SHA2;
    this.send(Buffer.from([0x01, Sha2.PERFORM_FULL_AUTHENTICATION]));
    let msg = await this.reply();
    if (this.tls) return cleartextPassword(msg);
    const key = await this.ctx.rsa();
    if (msg.length === 1 && msg[0] === Sha2.REQUEST_PUBLIC_KEY) {
      this.send(encodeAuthMoreData(Buffer.from(key.publicPem, 'latin1')));
      msg = await this.reply();
    }
    if (msg.length !== key.size) {
      throw new LoginRefused('the password must come RSA-encrypted on a plaintext connection (or connect with TLS)');
    }
    try {
      return await rsaDecryptPassword(msg, this.nonce, key.decryptKey);
    } catch {
      throw new LoginRefused('the RSA-encrypted password does not decrypt with the gateway key');
    }
  }

  /** Runs the exchange for a client that opened with `plugin` and `data`, and returns who it is. */
  async authenticate(user: string, plugin: string | null, data: Buffer): Promise<Identity> {
    const account = this.ctx.auth.serviceAccount(user);
    let p = plugin ?? Plugin.NATIVE;
    let d = data;
    this.plugin = p;
    for (let round = 0; round < 3; round++) {
      if (p === Plugin.NATIVE && account) {
        if (d.length === 0) throw new LoginRefused('no password given');
        return this.ctx.auth.verifyNativeScramble(user, this.nonce, d);
      }
      if (p === Plugin.CLEAR && this.tls) {
        return this.ctx.auth.verifyPassword(user, cleartextPassword(d));
      }
      if (p === Plugin.CACHING_SHA2) {
        return this.ctx.auth.verifyPassword(user, await this.sha2FullAuth());
      }
      // Anything else: ask for the plugin that gets us what we need, never a cleartext plugin on plaintext.
      p = account ? Plugin.NATIVE : Plugin.CACHING_SHA2;
      d = await this.switchTo(p);
    }
    throw new LoginRefused('authentication did not converge');
  }
}

/**
 * The connection phase with a client: greeting, optional TLS upgrade, handshake response, authentication.
 * Throws LoginRefused (the caller answers 1045) or ProtocolError.
 */
export async function clientLogin(conn: PacketConn, ctx: LoginContext): Promise<LoginResult> {
  let offered = offeredCapabilities(ctx.server, ctx.tls !== null);
  // MariaDB's extended capabilities are offered the way a MariaDB server offers them: CLIENT_LONG_PASSWORD cleared.
  const offeredExt = ctx.server.mariadbCapabilities & GATEWAY_MARIADB_CAPABILITIES;
  if (offeredExt) offered = (offered & ~Cap.LONG_PASSWORD) >>> 0;
  const nonce = makeNonce();
  let seq = conn.send(
    encodeGreeting({
      serverVersion: ctx.server.version,
      connectionId: ctx.connectionId,
      nonce,
      capabilities: offered,
      charset: DEFAULT_CHARSET,
      status: Status.AUTOCOMMIT,
      authPlugin: Plugin.NATIVE,
      mariadbCapabilities: offeredExt,
    }),
    0,
  );
  let first = await conn.readPacket();
  if (first.seq !== seq) throw new ProtocolError(`packet out of order during login: sequence id ${first.seq}, expected ${seq}`);
  let hs = decodeHandshakeResponse(Buffer.from(first.payload));
  seq = (first.seq + 1) & 0xff;
  let tls = false;
  if (hs.sslRequest) {
    if (!ctx.tls) throw new ProtocolError('client asked for TLS, which was not offered');
    const raw = conn.detachForUpgrade();
    const secure = new TLSSocket(raw, { isServer: true, secureContext: ctx.tls });
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', () => resolve());
      secure.once('error', (e) => reject(new ProtocolError(`TLS handshake failed: ${e.message}`)));
      secure.once('close', () => reject(new ProtocolError('client closed during the TLS handshake')));
    });
    conn.reattach(secure);
    tls = true;
    first = await conn.readPacket();
    if (first.seq !== seq) throw new ProtocolError(`packet out of order during login: sequence id ${first.seq}, expected ${seq}`);
    hs = decodeHandshakeResponse(Buffer.from(first.payload));
    seq = (first.seq + 1) & 0xff;
    if (hs.sslRequest) throw new ProtocolError('second SSL request');
  }
  const capabilities = ((hs.capabilities & offered) | (hs.capabilities & Cap.LONG_PASSWORD)) >>> 0;
  const mariadbCapabilities = hs.mariadbCapabilities & offeredExt;
  if (ctx.requireTls && !tls) {
    throw new ClientRefused(hs.user, 'this gateway accepts TLS connections only', seq);
  }
  if (!(capabilities & Cap.SECURE_CONNECTION) || !(capabilities & Cap.PLUGIN_AUTH)) {
    throw new ClientRefused(hs.user, 'the client must support secure connection and pluggable authentication', seq);
  }
  const ex = new AuthExchange(conn, ctx, tls, seq, nonce);
  try {
    const identity = await ex.authenticate(hs.user, hs.authPlugin, hs.authResponse);
    return { identity, handshake: hs, capabilities, mariadbCapabilities, seq: ex.seq, tls, plugin: ex.plugin };
  } catch (e) {
    if (e instanceof LoginRefused) throw new ClientRefused(hs.user, e.reason, ex.seq);
    throw e;
  }
}
