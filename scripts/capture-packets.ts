// Captures real server responses from a MariaDB (default 127.0.0.1:3306, root, no password) as hex fixtures for the
// protocol unit tests: `node scripts/capture-packets.ts > test/fixtures/packets.ts`. Re-run when adding a case.
import { connectUpstream } from '../src/gateway/upstream.ts';
import { Cap, GATEWAY_CAPABILITIES } from '../src/protocol/constants.ts';
import { encodeQuery } from '../src/protocol/commands.ts';
import { ResponseTracker, type ResponseShape } from '../src/protocol/results.ts';
import type { TargetConfig } from '../src/config/types.ts';

const [host, port] = (process.env.CAPTURE_MYSQL ?? '127.0.0.1:3306').split(':');
const target: TargetConfig = {
  name: 'capture',
  listen: { host: '127.0.0.1', port: 0 },
  upstream: { host: host!, port: Number(port), user: 'root', password: '', tls: 'disabled', connectTimeout: 5000 },
};

async function capture(deprecateEof: boolean) {
  const caps = deprecateEof ? GATEWAY_CAPABILITIES : (GATEWAY_CAPABILITIES & ~Cap.DEPRECATE_EOF) >>> 0;
  const up = await connectUpstream(target, { capabilities: caps, charset: 45, maxPacket: 1 << 24, database: null, attributes: new Map(), maxMessage: 1 << 30 });
  const out: Record<string, string[]> = {};
  const run = async (name: string, payload: Buffer, shape: ResponseShape) => {
    up.conn.send(payload, 0);
    const t = new ResponseTracker();
    t.begin(shape, up.capabilities);
    const packets: string[] = [];
    while (!t.done) {
      const p = await up.conn.readPacket();
      t.next(p.payload.length ? p.payload[0]! : -1, p.payload.length, () => p.payload);
      packets.push(Buffer.from(p.raw).toString('hex'));
    }
    out[name] = packets;
    return packets;
  };
  await run('select_text', encodeQuery("SELECT 1 AS a, NULL AS b, 'héllo' AS c, CAST(2.50 AS DECIMAL(5,2)) AS d"), 'query');
  await run('multi', encodeQuery('SELECT 1; SELECT 2 AS two'), 'query');
  await run('error', encodeQuery('SELECT * FROM no_such_db.no_such_table'), 'query');
  await run('ok', encodeQuery('DO 1'), 'query');
  const prep = await run('prepare', Buffer.concat([Buffer.from([0x16]), Buffer.from("SELECT ? AS p, CAST('2024-01-02 03:04:05.123456' AS DATETIME(6)) AS dt, -5 AS n, 1.5e0 AS f, X'00ff' AS b, NULL AS z")]), 'prepare');
  const stmtId = Buffer.from(prep[0]!, 'hex').readUInt32LE(5);
  const exec = Buffer.alloc(1 + 4 + 1 + 4 + 1 + 1 + 2 + 1 + 3);
  let o = 0;
  exec[o++] = 0x17; exec.writeUInt32LE(stmtId, o); o += 4; exec[o++] = 0; exec.writeUInt32LE(1, o); o += 4;
  exec[o++] = 0; // null bitmap (1 param)
  exec[o++] = 1; // new params bound
  exec[o++] = 0xfd; exec[o++] = 0; // VAR_STRING
  exec[o++] = 2; exec.write('hi', o); o += 2;
  await run('execute', exec.subarray(0, o), 'execute');
  up.conn.send(Buffer.from([0x01]), 0);
  up.conn.end('done');
  return { greeting: up.greeting, out };
}

const modern = await capture(true);
const legacy = await capture(false);
const lines = [
  '// Server responses captured from MariaDB ' + modern.greeting.serverVersion + ' by scripts/capture-packets.ts.',
  '// Each entry is the packets of one response, header included, as hex: 3-byte length, sequence id, payload.',
  '// `deprecateEof`: with CLIENT_DEPRECATE_EOF (results end with an OK packet); `legacy`: with EOF packets.',
  `export const serverVersion = ${JSON.stringify(modern.greeting.serverVersion)};`,
  `export const deprecateEof: Record<string, string[]> = ${JSON.stringify(modern.out, null, 2)};`,
  `export const legacy: Record<string, string[]> = ${JSON.stringify(legacy.out, null, 2)};`,
];
process.stdout.write(lines.join('\n') + '\n');
