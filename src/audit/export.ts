import { presentSession } from './present.ts';
import { columnSetRefs } from './record.ts';
import type { Session } from './types.ts';

/**
 * A session's export, as JSON Lines, for scripts/verify-export.mjs (docs/audit-chain.md, "Checking an export"):
 *
 *     {"type":"agentgate-session-export","v":1,"exportedAt":…,"session":{…the session as listed…}}
 *     {"type":"record","stream":…,"position":…,"prev":hex,"sessionId":…,"seq":…,"sessPrev":hex,"hash":hex,"body":{…},"rows":base64|null}
 *     … one per record, seq 0 (the header) first …
 *     {"type":"columns","digest":hex,"columns":[…]}                      … the column sets the records refer to …
 *     {"type":"checkpoint","payload":{…},"signature":base64,"key":id}   … every checkpoint that names the session …
 *     {"type":"key","id":…,"publicKey":PEM}                                … the keys those are signed with …
 *
 * `body` is the stored canonical JSON embedded as it is, and `payload` the signed text likewise, so the verifier
 * re-encodes exactly what was hashed or signed.
 */

export interface ExportRecord {
  stream: string;
  position: number;
  seq: number;
  prev: Buffer;
  sessPrev: Buffer;
  hash: Buffer;
  body: string;
  rows: Buffer | null;
}

export interface ExportSource {
  records(afterSeq: number, limit: number): Promise<ExportRecord[]>;
  checkpoints(): Promise<{ payload: string; signature: Buffer; keyId: string }[]>;
  keys(ids: string[]): Promise<{ id: string; pem: string }[]>;
  columnSets(digests: string[]): Promise<{ digest: string; text: string }[]>;
}

export async function* exportLines(session: Session, src: ExportSource): AsyncGenerator<string> {
  yield JSON.stringify({ type: 'agentgate-session-export', v: 1, exportedAt: new Date().toISOString(), session: presentSession(session) }) + '\n';
  let after = -1;
  const sets = new Set<string>();
  for (;;) {
    const recs = await src.records(after, 2000);
    if (!recs.length) break;
    let chunk = '';
    for (const r of recs) {
      chunk += `{"type":"record","stream":${JSON.stringify(r.stream)},"position":${r.position},"prev":"${r.prev.toString('hex')}",` +
        `"sessionId":${JSON.stringify(session.id)},"seq":${r.seq},"sessPrev":"${r.sessPrev.toString('hex')}","hash":"${r.hash.toString('hex')}",` +
        `"body":${r.body},"rows":${r.rows ? `"${r.rows.toString('base64')}"` : 'null'}}\n`;
      after = r.seq;
      for (const d of columnSetRefs(r.body)) sets.add(d);
    }
    yield chunk;
  }
  for (const c of await src.columnSets([...sets])) yield `{"type":"columns","digest":"${c.digest}","columns":${c.text}}\n`;
  const cps = await src.checkpoints();
  const keyIds = new Set<string>();
  for (const c of cps) {
    keyIds.add(c.keyId);
    yield `{"type":"checkpoint","payload":${c.payload},"signature":"${c.signature.toString('base64')}","key":${JSON.stringify(c.keyId)}}\n`;
  }
  for (const k of await src.keys([...keyIds])) yield JSON.stringify({ type: 'key', id: k.id, publicKey: k.pem }) + '\n';
}
