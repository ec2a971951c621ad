// Case 4: what a connection costs.
// - Idle: N clients log in, run `SELECT 1` once and stay connected; the process's RSS after minus before, divided by
//   N (agentgate: also its upstream connection; direct: mariadbd's own cost, for reference).
// - Setup rate: workers that connect, log in and quit in a loop, for a few seconds: plaintext and TLS. Through
//   agentgate the agent logs in with a JWT of the test OIDC issuer (plaintext: caching_sha2_password's RSA exchange;
//   TLS: the token over the encrypted channel), and with a service-account secret (mysql_native_password scramble).
//   Direct and through the relay, the client logs in to MariaDB with a password (the same client code).
import { BenchClient, type Endpoint } from '../lib/client.ts';
import type { CaseContext } from '../lib/context.ts';
import { PATHS, type Path } from '../lib/env.ts';
import { rss } from '../lib/proc.ts';
import { row, type Row } from '../lib/report.ts';
import { middle, percentile, rotation, sleep } from '../lib/stats.ts';

async function openMany(ep: Endpoint, n: number, batch = 50): Promise<BenchClient[]> {
  const out: BenchClient[] = [];
  for (let i = 0; i < n; i += batch) {
    const group = await Promise.all(Array.from({ length: Math.min(batch, n - i) }, async () => {
      const c = await BenchClient.connect(ep, { database: 'sbtest' });
      await c.query('SELECT 1');
      return c;
    }));
    out.push(...group);
  }
  return out;
}

/** RSS sampled a few times after things settle; the median. */
async function settledRss(pid: number): Promise<number> {
  await sleep(1500);
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    xs.push(rss(pid));
    await sleep(300);
  }
  return middle(xs);
}

interface RateRun {
  perSecond: number;
  p50ms: number;
  count: number;
}

async function setupRate(ep: Endpoint, tls: boolean, seconds: number, workers: number): Promise<RateRun> {
  const lat: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const c = await BenchClient.connect(ep, { tls });
      lat.push(performance.now() - t0);
      c.close();
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  return { perSecond: lat.length / elapsed, p50ms: percentile(lat, 50), count: lat.length };
}

export async function connectionsCase(c: CaseContext): Promise<Row[]> {
  const { env } = c;
  const n = c.quick ? 500 : 2000;
  c.log('connections: restarting the relay and agentgate');
  await env.startRelay();
  await env.startGateway();
  const rows: Row[] = [];

  // ---- idle connections
  const perConn: Record<Path, number> = { direct: 0, relay: 0, agentgate: 0 };
  const idleRaw: Record<string, unknown> = {};
  for (const p of PATHS) {
    const pid = p === 'direct' ? env.dbPid : env.proc(p)!.pid;
    // Warm the path first: the first connections load code, TLS and policy caches once per process.
    for (const cl of await openMany(env.endpoint(p), 50)) cl.close();
    const before = await settledRss(pid);
    const w = c.cpuWatch();
    const t0 = performance.now();
    const clients = await openMany(env.endpoint(p), n);
    const openSeconds = (performance.now() - t0) / 1000;
    const after = await settledRss(pid);
    const cpu = w.stop();
    perConn[p] = (after - before) / n;
    idleRaw[p] = { process: p === 'direct' ? 'mariadbd' : p, rssBefore: before, rssAfter: after, connections: n, openSeconds, foreignCpuPct: cpu.foreignPct };
    c.log(`  ${p.padEnd(9)} ${n} idle connections: ${p === 'direct' ? 'mariadbd' : p} RSS ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MB, ` +
      `${(perConn[p] / 1024).toFixed(1)} KB each (opened in ${openSeconds.toFixed(1)} s)`);
    for (const cl of clients) cl.close();
    await sleep(1000);
  }
  rows.push(row({
    case: `${n.toLocaleString('en-US')} idle connections`, metric: 'RSS per connection', unit: 'KB',
    direct: perConn.direct / 1024, relay: perConn.relay / 1024, agentgate: perConn.agentgate / 1024,
    target: '< 64 KB (agentgate)', holds: perConn.agentgate < 64 * 1024,
    note: 'each client logged in and ran SELECT 1 once; the direct column is mariadbd\'s own growth (for reference), the others the proxy process\'s',
  }));

  // ---- setup rate
  const seconds = c.quick ? 2 : 5;
  const workers = 4;
  const rounds = c.quick ? 1 : 3;
  type Variant = 'plain' | 'plain-jwt' | 'tls';
  const variants: { key: string; path: Path; v: Variant; ep: () => Endpoint; tls: boolean }[] = [];
  for (const p of PATHS) {
    variants.push({ key: `${p}/plain`, path: p, v: 'plain', ep: () => env.endpoint(p), tls: false });
    variants.push({ key: `${p}/tls`, path: p, v: 'tls', ep: () => (p === 'agentgate' ? env.jwtEndpoint() : env.endpoint(p)), tls: true });
  }
  variants.push({ key: 'agentgate/plain-jwt', path: 'agentgate', v: 'plain-jwt', ep: () => env.jwtEndpoint(), tls: false });
  const rates: Record<string, RateRun[]> = {};
  for (const v of variants) await setupRate(v.ep(), v.tls, 0.5, workers); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const v of rotation(variants, r)) {
      const res = await setupRate(v.ep(), v.tls, seconds, workers);
      (rates[v.key] ??= []).push(res);
      c.log(`  setup ${v.key.padEnd(20)} round ${r + 1}: ${res.perSecond.toFixed(0)} connections/s (p50 ${res.p50ms.toFixed(1)} ms)`);
    }
  }
  const rate = (k: string) => middle((rates[k] ?? []).map((x) => x.perSecond));
  const setupName = 'connection setup';
  rows.push(row({ case: setupName, metric: 'plaintext, password: conn/s', unit: 'n', direct: rate('direct/plain'), relay: rate('relay/plain'), agentgate: rate('agentgate/plain'),
    note: 'agentgate: service-account secret (mysql_native_password scramble); direct/relay: MariaDB password' }));
  rows.push(row({ case: setupName, metric: 'plaintext, JWT (RSA exchange): conn/s', unit: 'n', direct: rate('direct/plain'), relay: rate('relay/plain'), agentgate: rate('agentgate/plain-jwt'),
    note: 'agentgate: JWT sent RSA-encrypted (8192-bit key, caching_sha2_password); direct/relay repeat the password figures' }));
  rows.push(row({ case: setupName, metric: 'TLS, JWT: conn/s', unit: 'n', direct: rate('direct/tls'), relay: rate('relay/tls'), agentgate: rate('agentgate/tls'),
    note: 'agentgate: JWT over TLS terminated by the gateway (plaintext upstream); direct/relay: password over TLS to MariaDB' }));
  c.raw.connections = { idle: idleRaw, setup: { seconds, workers, rounds, rates } };
  return rows;
}
