export { loadConfig, parseConfig } from './load.ts';
export { ConfigError } from './errors.ts';
export { redactConfig, redactUrl } from './redact.ts';
export { parseDuration } from './duration.ts';
export { DEFAULTS } from './validate.ts';
export type { ReadFile } from './check.ts';
export type { Env } from './env.ts';
export { DETECTORS } from './types.ts';
export type * from './types.ts';
