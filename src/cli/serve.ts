import type { Command } from 'commander';
import type { Gateway } from '../gateway/server.ts';
import { failed } from './errors.ts';
import { loadCliConfig, urlOf } from './config.ts';

/**
 * `agentgate serve --config FILE`: the gateway in the foreground. SIGINT or SIGTERM starts the graceful shutdown
 * (stop accepting, let statements in flight finish for at most 10 s, flush the audit store) and exits 0; a second
 * signal during it exits at once with 1.
 */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the gateway in the foreground until SIGINT or SIGTERM')
    .requiredOption('--config <file>', 'the configuration file (YAML)')
    .addHelpText('after', `
On SIGINT/SIGTERM the gateway stops accepting connections, lets statements in flight finish (at most 10 s),
flushes the audit store and exits 0. A configuration problem exits 2, naming the file, the key and the problem.`)
    .action(async (o: { config: string }) => {
      const config = loadCliConfig(o.config);
      // Loaded here: the other commands start faster without the whole gateway.
      const { Gateway } = await import('../gateway/server.ts');
      let gateway: Gateway;
      try {
        gateway = await Gateway.start(config);
      } catch (e) {
        throw failed(`the gateway could not start: ${(e as Error).message}`);
      }
      for (const t of config.targets) {
        const a = gateway.address(t.name);
        process.stdout.write(`agentgate: target ${t.name} on ${a.host}:${a.port} (upstream ${t.upstream.host}:${t.upstream.port})\n`);
      }
      process.stdout.write(`agentgate: API on ${urlOf({ host: config.api.listen.host, port: gateway.api.port() })}\n`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (sig: NodeJS.Signals) => {
          if (stopping) {
            process.stderr.write(`agentgate: ${sig} again: exiting without waiting\n`);
            process.exit(1);
          }
          stopping = true;
          process.stderr.write(`agentgate: ${sig}: stopping (statements in flight get up to 10 s)\n`);
          gateway.stop().then(resolve, (e: unknown) => {
            process.stderr.write(`agentgate: the shutdown did not complete cleanly: ${(e as Error).message}\n`);
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      process.stdout.write('agentgate: stopped\n');
    });
}
