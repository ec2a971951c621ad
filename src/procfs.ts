import { existsSync, readFileSync } from 'node:fs';

/**
 * A Linux stat line (`/proc/PID/stat`, `/proc/PID/task/TID/stat`, `/proc/thread-self/stat`): the command name and
 * the fields after it. The name is in parentheses and may itself hold spaces and parentheses, so the fields start
 * after the last `)`. `fields[0]` is the state, field 3 of proc(5): field n of proc(5) is `fields[n - 3]` (utime
 * `[11]`, stime `[12]`, nice `[16]`, starttime `[19]`, policy `[38]`). Throws when the file cannot be read: no such
 * process or thread, or no /proc.
 */
export function readStat(path: string): { name: string; fields: string[] } {
  const line = readFileSync(path, 'utf8');
  const close = line.lastIndexOf(')');
  return { name: line.slice(line.indexOf('(') + 1, close), fields: line.slice(close + 2).trimEnd().split(' ') };
}

/**
 * util-linux's `chrt`, which sets a thread's scheduling policy (the one `readStat`'s field 41 shows; Node has no call
 * for it), where Debian, Ubuntu, Fedora and Alpine install it: an absolute path, so PATH plays no part. Undefined
 * when it is not installed.
 */
export function findChrt(): string | undefined {
  return ['/usr/bin/chrt', '/bin/chrt'].find((p) => existsSync(p));
}
