// The floor for any Node proxy: a bare TCP relay that pipes bytes both ways and understands nothing.
//
//   node bench/relay.ts --to HOST:PORT [--port N]
//
// Prints "relay: listening on PORT" once it accepts connections. Each client connection opens one upstream
// connection; `pipe` carries the bytes with Node's own backpressure, Nagle off on both sides (as the gateway does).
import { connect, createServer, type Socket } from 'node:net';

export function startRelay(to: { host: string; port: number }, port = 0): Promise<{ port: number; close(): void }> {
  const server = createServer({ noDelay: true }, (client: Socket) => {
    const upstream = connect({ host: to.host, port: to.port, noDelay: true });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      resolve({ port: typeof a === 'object' && a ? a.port : port, close: () => server.close() });
    });
  });
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const to = opt('--to');
  if (!to || !/^[^:]+:\d+$/.test(to)) {
    process.stderr.write('usage: node bench/relay.ts --to HOST:PORT [--port N]\n');
    process.exit(2);
  }
  const [host, p] = to.split(':') as [string, string];
  const r = await startRelay({ host, port: Number(p) }, Number(opt('--port') ?? 0));
  process.stdout.write(`relay: listening on ${r.port}\n`);
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
