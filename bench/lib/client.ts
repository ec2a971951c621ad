// A minimal MySQL client on the project's own codec (the same login code the gateway uses upstream, the framer and
// the response tracker), for the latency, streaming and connection cases. It does as little as a client can: one
// write per command, packets consumed synchronously as chunks arrive (no promise per packet, no row decoding unless
// asked), one promise per command. Its cost is therefore small and the same whichever path it talks to.
import { connectUpstream, type Upstream } from '../../src/gateway/upstream.ts';
import type { PacketConn } from '../../src/gateway/conn.ts';
import { decodePrepareOk, encodeQuery, type DecodedParam } from '../../src/protocol/commands.ts';
import { Com, GATEWAY_CAPABILITIES } from '../../src/protocol/constants.ts';
import { framePayload } from '../../src/protocol/framing.ts';
import { decodeErr } from '../../src/protocol/packets.ts';
import { ResponseTracker, type ResponseShape } from '../../src/protocol/results.ts';
import { encodeStmtExecute, encodeStmtPrepare } from '../../src/protocol/stmt.ts';

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface ConnectOptions {
  database?: string;
  /** TLS to whatever listens at the endpoint (certificate not verified: loopback benchmark). */
  tls?: boolean;
}

export class ServerError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export interface Outcome {
  rows: number;
  /** Set for COM_STMT_PREPARE. */
  stmtId?: number;
}

/** Called for each row packet; the payload is a view valid only during the call. */
export type RowFn = (payload: Buffer, index: number) => void;

export class BenchClient {
  readonly up: Upstream;
  private readonly conn: PacketConn;
  private readonly tracker = new ResponseTracker();

  private constructor(up: Upstream) {
    this.up = up;
    this.conn = up.conn;
  }

  static async connect(ep: Endpoint, o: ConnectOptions = {}): Promise<BenchClient> {
    const up = await connectUpstream(
      {
        name: 'bench',
        listen: { host: '127.0.0.1', port: 0 },
        upstream: { host: ep.host, port: ep.port, user: ep.user, password: ep.password, tls: o.tls ? 'required' : 'disabled', connectTimeout: 30_000 },
      },
      {
        capabilities: GATEWAY_CAPABILITIES,
        charset: 45,
        maxPacket: 1 << 30,
        database: o.database ?? null,
        attributes: new Map([['program_name', 'agentgate-bench']]),
        maxMessage: 1 << 30,
      },
    );
    return new BenchClient(up);
  }

  /** Sends one command and consumes its whole response; rejects with ServerError on an ERR packet. */
  command(payload: Buffer, shape: ResponseShape, onRow?: RowFn): Promise<Outcome> {
    const conn = this.conn;
    const t = this.tracker;
    const f = conn.framer;
    t.begin(shape, this.up.capabilities);
    conn.write(framePayload(payload, 0).bytes);
    return new Promise<Outcome>((resolve, reject) => {
      let rows = 0;
      let stmtId: number | undefined;
      let err: ServerError | null = null;
      let stop: (() => void) | null = null;
      let finished = false;
      const finish = (e: Error | null) => {
        finished = true;
        // stream() calls us once synchronously before it returns its stop function.
        if (stop) stop();
        if (e) reject(e);
        else resolve({ rows, stmtId });
      };
      stop = conn.stream(() => {
        if (finished) return;
        try {
          while (f.next()) {
            const role = t.next(f.first(), f.len, () => f.payload());
            if (role === 'row') {
              if (onRow) onRow(f.payload(), rows);
              rows++;
            } else if (role === 'err') {
              const e = decodeErr(f.payload());
              err = new ServerError(e.code, e.message);
            } else if (role === 'prepare_ok') {
              stmtId = decodePrepareOk(f.payload()).stmtId;
            } else if (role === 'infile_request') {
              throw new Error('LOCAL INFILE is not expected here');
            }
            if (t.done) {
              finish(err);
              return;
            }
          }
          if (conn.closed) finish(new Error(`connection closed: ${conn.closeReason ?? ''}`));
        } catch (e) {
          finish(e as Error);
        }
      });
      if (finished) stop();
    });
  }

  query(sql: string, onRow?: RowFn): Promise<Outcome> {
    return this.command(encodeQuery(sql), 'query', onRow);
  }

  async prepare(sql: string): Promise<number> {
    const r = await this.command(encodeStmtPrepare(sql), 'prepare');
    return r.stmtId!;
  }

  execute(stmtId: number, params: readonly DecodedParam[], onRow?: RowFn): Promise<Outcome> {
    return this.command(encodeStmtExecute(stmtId, params), 'execute', onRow);
  }

  close(): void {
    if (this.conn.closed) return;
    this.conn.write(framePayload(Buffer.from([Com.QUIT]), 0).bytes);
    this.conn.end('done');
  }

  destroy(): void {
    this.conn.destroy('done');
  }
}
