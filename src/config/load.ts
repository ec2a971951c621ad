import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { Checker, type ReadFile } from './check.ts';
import { expandEnv, type Env } from './env.ts';
import { ConfigError } from './errors.ts';
import type { Config } from './types.ts';
import { validate } from './validate.ts';

const readUtf8: ReadFile = (p) => readFileSync(p, 'utf8');

/**
 * Reads, expands and validates the configuration file. Throws `ConfigError` listing every problem, one a line,
 * each naming the file (as given), the key path and what is wrong.
 */
export function loadConfig(file: string, env: Env = process.env, readFile: ReadFile = readUtf8): Config {
  let text: string;
  try {
    text = readFile(resolve(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder, not a file' : String((err as Error).message);
    throw new ConfigError(file, [`${file}: cannot read the configuration: ${why}`]);
  }
  return parseConfig(text, file, env, readFile);
}

/**
 * The pure part of `loadConfig`: `text` is the YAML, `file` names it in messages and anchors relative paths, and
 * `readFile` reads the files the config points at (certificates, keys), so tests need no files.
 */
export function parseConfig(text: string, file: string, env: Env = process.env, readFile: ReadFile = readUtf8): Config {
  const abs = resolve(file);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    // Only the first syntax error: the parser's later ones are mostly echoes of it.
    const e = doc.errors[0]!;
    const line = text.split('\n')[(e.linePos?.[0]?.line ?? 0) - 1] ?? '';
    throw new ConfigError(file, [`${file}:${yamlWhere(e.linePos)} ${yamlProblem(e.code, e.message, line)}`]);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(file, [`${file}: ${err instanceof Error ? err.message : String(err)}`]);
  }
  const early: string[] = [];
  const { value: expanded, expanded: paths, failed } = expandEnv(value, env, (p, msg) => early.push(`${file}: ${p}: ${msg}`));
  const c = new Checker(file, dirname(abs), paths, readFile, failed);
  c.problems.push(...early);
  const config = validate(c, expanded);
  if (c.problems.length) throw new ConfigError(file, c.problems);
  config.file = abs;
  return config;
}

function yamlWhere(linePos: readonly { line: number; col: number }[] | undefined): string {
  const at = linePos?.[0];
  return at ? `${at.line}:${at.col}:` : '';
}

/**
 * The parser's message without its code frame and without quoted tokens: the offending line may hold a secret.
 */
function yamlProblem(code: string, message: string, line: string): string {
  let m = message.split(' at line ')[0]!.replace(/: ".*"$/s, '').trim();
  if (code === 'BAD_ALIAS') m += ' (a * starts a YAML alias: quote it, e.g. targets: ["*"])';
  else if (line.includes('${') && /[{[]/.test(line.replace(/\$\{[^}]*\}/g, ''))) {
    m += ' (inside [ ] or { }, put a value holding ${...} in quotes)';
  }
  return `YAML: ${m}`;
}
