// agentgate with everything on but durable recording: the same `Gateway` as `agentgate serve`, started on a store
// that opens and closes sessions for real but accepts every statement event without encoding or writing it.
// It exists only to measure what recording adds per statement (bench/run.ts, case "store"); never deploy it.
//
//   node bench/gateway-nostore.ts --config FILE
import { loadConfig } from '../src/config/index.ts';
import { openAuditStore, type AuditStore } from '../src/audit/index.ts';
import { Gateway } from '../src/gateway/server.ts';
import { loadInstanceId, loadSigningKey } from '../src/gateway/keys.ts';

const i = process.argv.indexOf('--config');
if (i < 0 || !process.argv[i + 1]) {
  process.stderr.write('usage: node bench/gateway-nostore.ts --config FILE\n');
  process.exit(2);
}
const config = loadConfig(process.argv[i + 1]!);
const real = openAuditStore(config.audit.store, {
  instanceId: loadInstanceId(config),
  signingKeyPem: loadSigningKey(config),
  fsync: config.audit.fsync,
  checkpointEvery: config.audit.checkpointEvery,
  checkpointInterval: config.audit.checkpointInterval,
});
// Everything goes to the real store (bound to it: its fields are private) except `append`.
const store = new Proxy(real, {
  get(target, key) {
    if (key === 'append') return () => Promise.resolve();
    const v: unknown = Reflect.get(target, key, target);
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
  },
}) as AuditStore;
const gateway = await Gateway.start(config, { store });
for (const t of config.targets) {
  const a = gateway.address(t.name);
  process.stdout.write(`agentgate (no statement recording): target ${t.name} on ${a.host}:${a.port}\n`);
}
const stop = () => {
  void gateway.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
