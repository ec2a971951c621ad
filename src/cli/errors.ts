/**
 * How a command ends, as the contract's exit status: 1 the operation failed (an API error, tampering found,
 * statements that differ), 2 bad usage or bad configuration. Anything else thrown is reported as a failure (1).
 */
export class CliError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad usage: a missing or contradictory option, a value that cannot be right. Exit 2. */
export function usage(message: string): CliError {
  return new CliError(message, 2);
}

/** The operation was attempted and failed. Exit 1. */
export function failed(message: string): CliError {
  return new CliError(message, 1);
}

/**
 * A result that is itself the failure (a verify that found tampering): the report is already printed, the command
 * only has to exit 1.
 */
export class Fails extends Error {
  constructor() {
    super('');
    this.name = 'Fails';
  }
}
