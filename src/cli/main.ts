// The `agentgate` command: bin/agentgate.js imports this file. Each command group lives in its own file beside it
// and registers itself on the program here.
import { Command, CommanderError } from 'commander';
import { CliError, Fails } from './errors.ts';
import { registerServe } from './serve.ts';
import { registerDemo } from './demo.ts';
import { registerSessions } from './sessions.ts';
import { registerApprovals } from './approvals.ts';
import { registerAudit } from './audit.ts';
import { registerPolicy } from './policy.ts';

const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('agentgate');
  program
    .description('A MySQL gateway for autonomous agents: identity, recording, guardrails, approvals and masking.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    // Settings made before the commands are added are inherited by every one of them.
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (s, write) => write(`agentgate: ${s.replace(/^error: /, '')}`) })
    .addHelpText('after', `
Exit status: 0 success; 1 the operation failed (an API error, tampering found, statements that differ);
2 bad usage or a bad configuration (the message names the file, the key and what is wrong).
Commands that talk to a running gateway take --api URL (default: api.listen of --config) and --token
(default: $AGENTGATE_TOKEN).`);

  registerServe(program);
  registerDemo(program);
  registerSessions(program);
  registerApprovals(program);
  registerAudit(program);
  registerPolicy(program);
  return program;
}

/** Runs the command line; resolves to the exit status. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed help or its message.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    if (e instanceof Fails) return 1;
    if (e instanceof CliError) {
      process.stderr.write(`agentgate: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`agentgate: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

// `agentgate sessions export ID | head`: a reader that stops early is not an error of ours.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const code = await run(process.argv);
// Output written to a pipe may still be queued: exit once it is out. Sockets and timers left behind by libraries
// (keep-alive HTTP connections) must not keep a finished command alive.
process.stdout.write('', () => process.exit(code));
