import { connectUpstream, type Upstream } from '../../src/gateway/upstream.ts';
import { GATEWAY_CAPABILITIES } from '../../src/protocol/constants.ts';
import { framePayload } from '../../src/protocol/framing.ts';
import { ResponseTracker, type ResponseShape } from '../../src/protocol/results.ts';

/**
 * A MySQL client built from the project's own codec, for protocol-level tests: it sends exact command bytes and
 * returns the response packets exactly as received (header included), so a test can compare, byte for byte, what a
 * server answers directly and what the gateway forwards.
 */
export class RawClient {
  readonly up: Upstream;

  private constructor(up: Upstream) {
    this.up = up;
  }

  static async connect(o: { host: string; port: number; user: string; password: string; database?: string; capabilities?: number; tls?: boolean }): Promise<RawClient> {
    const up = await connectUpstream(
      {
        name: 'raw',
        listen: { host: '127.0.0.1', port: 0 },
        upstream: { host: o.host, port: o.port, user: o.user, password: o.password, tls: o.tls ? 'required' : 'disabled', connectTimeout: 10_000 },
      },
      {
        capabilities: o.capabilities ?? GATEWAY_CAPABILITIES,
        charset: 45,
        maxPacket: 1 << 30,
        database: o.database ?? null,
        attributes: new Map([['program_name', 'agentgate-tests']]),
        maxMessage: 1 << 30,
      },
    );
    return new RawClient(up);
  }

  /** The OK packet that completed the login. */
  get loginOk(): Buffer {
    return this.up.ok;
  }

  /** Sends one command (payload starting with the command byte) and reads the whole response. */
  async command(payload: Buffer, shape: ResponseShape): Promise<Buffer[]> {
    this.up.conn.write(framePayload(payload, 0).bytes);
    const t = new ResponseTracker();
    t.begin(shape, this.up.capabilities);
    const out: Buffer[] = [];
    while (!t.done) {
      const p = await this.up.conn.readPacket();
      out.push(Buffer.from(p.raw));
      t.next(p.payload.length ? p.payload[0]! : -1, p.payload.length, () => p.payload);
      if (t.awaitingInfile) {
        // This client never sends files.
        this.up.conn.write(framePayload(Buffer.alloc(0), (p.seq + 1) & 0xff).bytes);
        t.infileSent();
      }
    }
    return out;
  }

  /** Sends a command that has no response (COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE). */
  send(payload: Buffer): void {
    this.up.conn.write(framePayload(payload, 0).bytes);
  }

  query(sql: string): Promise<Buffer[]> {
    return this.command(Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, 'utf8')]), 'query');
  }

  close(): void {
    this.up.conn.write(framePayload(Buffer.from([0x01]), 0).bytes);
    this.up.conn.end('done');
  }
}
