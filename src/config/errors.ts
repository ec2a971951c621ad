/**
 * A configuration that cannot be used. `problems` holds one line per problem, each naming the file, the key path
 * and what is wrong (`config.yaml: targets[1].listen: "127.0.0.1:99999" is not a host:port (port must be 1-65535)`);
 * the message is those lines joined, so printing it shows every problem at once. Never carries a secret value.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}
