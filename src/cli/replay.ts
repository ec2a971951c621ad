import type { PresentedEvent, PresentedSession } from '../audit/present.ts';
import { decisionText, durationText, paramsText, resultTable, resultsOf, whatText } from './events.ts';
import { gap, out, time } from './output.ts';

export interface ReplayOptions {
  speed: number;
  /** false with --no-wait. */
  wait: boolean;
  /** Seconds; 0: no limit. */
  maxPause: number;
  maxRows: number;
}

const indent = (text: string, by = '    ') => text.split('\n').map((l) => (l ? by + l : l)).join('\n');

function render(e: PresentedEvent, since: number, maxRows: number): string {
  const head = [`[${gap(since)}]`, `#${e.seq}`, e.type];
  const decision = decisionText(e, false);
  if (decision) head.push(decision);
  const d = durationText(e);
  if (d) head.push(d);
  const lines = [head.join('  ')];
  if (e.decision && e.decision.action !== 'allow' && e.decision.reason) lines.push(indent(`why: ${e.decision.reason}`));
  if (e.type === 'approval') {
    lines.push(indent(whatText(e)));
    if (e.sql !== undefined) lines.push(indent(e.sql.trim()));
  } else if (e.sql !== undefined) {
    lines.push(indent(e.sql.trim()));
    const p = paramsText(e);
    if (p) lines.push(indent(`parameters: ${p}`));
  } else {
    const w = whatText(e);
    if (w) lines.push(indent(w));
  }
  if (e.approval && e.type !== 'approval') {
    const a = e.approval;
    lines.push(indent(`approval ${a.id}: ${a.status}${a.by?.length ? ` by ${a.by.join(', ')}` : ''}${a.reason ? ` (${a.reason})` : ''}`));
  }
  for (const r of resultsOf(e)) {
    const t = resultTable(r, maxRows);
    if (t) lines.push(indent(t));
  }
  return lines.join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Plays a recorded session in order with its timing: each event after the pause that preceded it (divided by
 * `speed`, shortened to `maxPause`), with its decision, duration, and the result table as the client received it.
 */
export async function replaySession(s: PresentedSession & { events: PresentedEvent[] }, o: ReplayOptions): Promise<void> {
  out(`session ${s.id} on ${s.target}: ${s.identity.subject} (${s.identity.via}) from ${s.client}, policy ${s.policy}`);
  out(`started ${time(s.startedAt)}${s.endedAt ? `, ended ${time(s.endedAt)}${s.endCause ? ` (${s.endCause})` : ''}` : ', still open'}; ${s.events.length} events`);
  out();
  let prev = Date.parse(s.startedAt);
  for (const e of s.events) {
    // Events are played in recorded order; one stamped earlier than the one before it (a statement's event is
    // stamped when it started, the approval that released it when it was decided) adds no pause.
    const at = Date.parse(e.at);
    const since = Math.max(0, at - prev);
    prev = Math.max(prev, at);
    if (o.wait) {
      let pause = since / o.speed;
      if (o.maxPause > 0 && pause > o.maxPause * 1000) {
        out(`    … ${gap(since).slice(1)} without activity, shortened to ${o.maxPause}s`);
        pause = o.maxPause * 1000;
      }
      if (pause >= 1) await sleep(pause);
    }
    out(render(e, since, o.maxRows));
  }
  out();
  out(`end of session ${s.id}`);
}
