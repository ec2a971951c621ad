#!/usr/bin/env node
// Checks one session's audit export (`agentgate sessions export ID > session.jsonl`) on its own: plain JavaScript,
// no dependencies, any Node.js with Ed25519 (12 or later). The rules are those of docs/audit-chain.md; this file
// re-implements them without agentgate's code, so that it can be read and trusted separately.
//
//   node scripts/verify-export.mjs session.jsonl [--key gateway-public.pem]… [--json]
//
// --key pins the public key(s) checkpoints must be signed with. Without it the keys listed in the export itself are
// used, which proves the export is internally consistent but not who signed it: pin the key for real assurance.
// Exit status: 0 the export verifies; 1 it does not (what is wrong is printed); 2 bad usage.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const VERSION = 'agentgate.audit.v1';
const ZERO = '0'.repeat(64);

function canonical(v) {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string': return JSON.stringify(v);
    case 'number': return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'boolean': return v ? 'true' : 'false';
    case 'object': break;
    default: return undefined;
  }
  if (Array.isArray(v)) return '[' + v.map((x) => canonical(x) ?? 'null').join(',') + ']';
  const parts = [];
  for (const k of Object.keys(v).sort()) {
    const s = canonical(v[k]);
    if (s !== undefined) parts.push(JSON.stringify(k) + ':' + s);
  }
  return '{' + parts.join(',') + '}';
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

function keyIdOf(key) {
  const der = key.export({ format: 'der', type: 'spki' });
  return sha256(der.subarray(der.length - 32));
}

function main(argv) {
  const files = [];
  const pinned = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--key') {
      if (!argv[i + 1]) return usage('--key needs a PEM file');
      pinned.push(argv[++i]);
    } else if (argv[i] === '--json') json = true;
    else if (argv[i].startsWith('-')) return usage(`unknown option ${argv[i]}`);
    else files.push(argv[i]);
  }
  if (files.length !== 1) return usage('give exactly one export file');
  let text;
  try {
    text = readFileSync(files[0], 'utf8');
  } catch (e) {
    return usage(`cannot read ${files[0]}: ${e.message}`);
  }
  const trusted = new Map();
  for (const f of pinned) {
    try {
      const k = createPublicKey(readFileSync(f, 'utf8'));
      trusted.set(keyIdOf(k), k);
    } catch (e) {
      return usage(`cannot use ${f} as a public key: ${e.message}`);
    }
  }
  const r = check(text, trusted);
  if (json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    for (const w of r.warnings) process.stdout.write(`warning: ${w}\n`);
    if (r.ok) {
      process.stdout.write(`OK: session ${r.sessionId}, ${r.records} records, ${r.checkpoints} signed checkpoint(s); ` +
        (r.complete ? 'closed and complete (its end is signed)' : `signed through seq ${r.anchoredSeq}, ${r.unanchored} newer record(s) not yet signed`) + '\n');
    } else process.stdout.write(`FAILED: ${r.problem}\n`);
  }
  return r.ok ? 0 : 1;
}

function usage(msg) {
  process.stderr.write(`verify-export: ${msg}\nusage: node scripts/verify-export.mjs EXPORT.jsonl [--key PUBLIC.pem]… [--json]\n`);
  return 2;
}

function check(text, trusted) {
  const warnings = [];
  const result = { ok: false, sessionId: null, records: 0, checkpoints: 0, anchoredSeq: null, complete: false, unanchored: 0, warnings };
  const fail = (problem) => Object.assign(result, { ok: false, problem });
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  let docs;
  try {
    docs = lines.map((l, i) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`line ${i + 1} is not JSON`);
      }
    });
  } catch (e) {
    return fail(e.message);
  }
  const head = docs[0];
  if (!head || head.type !== 'agentgate-session-export' || head.v !== 1 || !head.session) return fail('line 1 is not an agentgate session export header');
  const session = head.session;
  result.sessionId = session.id;

  // Records: each hash recomputed, each linked to the one before in the session.
  const records = [];
  const bySeq = new Map();
  const keys = new Map();
  const checkpoints = [];
  const columnSets = new Map();
  for (let i = 1; i < docs.length; i++) {
    const d = docs[i];
    const where = `line ${i + 1}`;
    if (d.type === 'record') {
      if (checkpoints.length) return fail(`${where}: a record after the checkpoints`);
      const prev = records[records.length - 1];
      if (d.sessionId !== session.id) return fail(`${where} (seq ${d.seq}): belongs to session ${d.sessionId}`);
      if (!Number.isInteger(d.seq) || (prev ? d.seq <= prev.seq : d.seq !== 0)) {
        return fail(`${where} (seq ${d.seq}): ${prev ? `does not follow seq ${prev.seq}` : 'the first record must be the session header, seq 0'}`);
      }
      if (d.body === null || typeof d.body !== 'object') return fail(`${where} (seq ${d.seq}): has no content`);
      const rows = d.rows ? Buffer.from(d.rows, 'base64') : null;
      const input = JSON.stringify([VERSION, d.stream, d.position, d.prev, d.sessionId, d.seq, d.sessPrev,
        sha256(canonical(d.body)), rows && rows.length ? sha256(rows) : '']);
      if (sha256(input) !== d.hash) return fail(`${where} (seq ${d.seq}): its content does not match its hash (edited)`);
      const expectedSessPrev = prev ? prev.hash : ZERO;
      if (d.sessPrev !== expectedSessPrev) return fail(`${where} (seq ${d.seq}): not linked to the record before it in the session (a record was removed, inserted or reordered)`);
      if (prev && prev.stream === d.stream && prev.position + 1 === d.position && d.prev !== prev.hash) {
        return fail(`${where} (seq ${d.seq}): not linked to the record before it in stream ${d.stream}`);
      }
      records.push(d);
      bySeq.set(d.seq, d);
    } else if (d.type === 'columns') {
      if (sha256(canonical(d.columns)) !== d.digest) return fail(`${where}: column set ${String(d.digest).slice(0, 12)}… does not match its digest (edited)`);
      columnSets.set(d.digest, d.columns);
    } else if (d.type === 'checkpoint') checkpoints.push({ d, where });
    else if (d.type === 'key') {
      try {
        const k = createPublicKey(d.publicKey);
        if (keyIdOf(k) !== d.id) return fail(`${where}: key ${d.id} does not match its id`);
        keys.set(d.id, k);
      } catch (e) {
        return fail(`${where}: unusable public key (${e.message})`);
      }
    } else return fail(`${where}: unknown line type ${JSON.stringify(d.type)}`);
  }
  if (!records.length) return fail('no records');
  result.records = records.length;

  // Column definitions are stored once and referred to by digest from each result (docs/audit-chain.md, body).
  for (const r of records) {
    for (const res of [r.body.result, ...(Array.isArray(r.body.results) ? r.body.results : [])]) {
      if (res && typeof res.columnSet === 'string' && !columnSets.has(res.columnSet)) {
        return fail(`seq ${r.seq}: its column definitions (set ${res.columnSet.slice(0, 12)}…) are missing from the export`);
      }
    }
  }

  // The summary line must agree with the header record, which is what the chain protects.
  const h = records[0].body;
  for (const f of ['target', 'client', 'tls', 'startedAt', 'policy', 'instanceId']) {
    if (canonical(h[f]) !== canonical(session[f])) return fail(`the session summary's ${f} differs from its header record`);
  }
  if (canonical(h.identity) !== canonical(session.identity)) return fail("the session summary's identity differs from its header record");

  // Checkpoints: signatures, and the session heads they name must be in the export.
  if (trusted.size === 0) {
    warnings.push('no --key given: the signatures were checked with the keys listed in the export itself');
  }
  const keyring = trusted.size ? trusted : keys;
  let anchored = -1;
  let closed = null;
  for (const { d, where } of checkpoints) {
    const p = d.payload;
    if (!p || p.type !== 'checkpoint') return fail(`${where}: not a checkpoint`);
    const key = keyring.get(p.key);
    if (!key || d.key !== p.key) return fail(`${where}: checkpoint ${p.stream}#${p.n} is signed by key ${p.key}, which is not ${trusted.size ? 'one of the --key keys' : 'in the export'}`);
    let good = false;
    try {
      good = verify(null, Buffer.from(canonical(p), 'utf8'), key, Buffer.from(d.signature, 'base64'));
    } catch { /* a malformed signature is a bad signature */ }
    if (!good) return fail(`${where}: the signature of checkpoint ${p.stream}#${p.n} does not match (edited or forged)`);
    const entry = (p.sessions || []).find((s) => s[0] === session.id);
    if (!entry) return fail(`${where}: checkpoint ${p.stream}#${p.n} does not name this session`);
    const [, seq, hash, endedAt, endCause] = entry;
    const rec = bySeq.get(seq);
    if (!rec) return fail(`checkpoint ${p.stream}#${p.n} signed seq ${seq} of this session, which is missing from the export (records were removed)`);
    if (rec.hash !== hash) return fail(`seq ${seq} differs from what checkpoint ${p.stream}#${p.n} signed (the chain was rewritten)`);
    const atPos = records.find((r) => r.stream === p.stream && r.position === p.position);
    if (atPos && atPos.hash !== p.hash) return fail(`seq ${atPos.seq} differs from what checkpoint ${p.stream}#${p.n} signed`);
    if (seq > anchored) anchored = seq;
    if (endedAt) closed = { seq, endedAt, endCause };
    result.checkpoints++;
  }
  if (!result.checkpoints) return fail('no signed checkpoint names this session: nothing proves who wrote these records');
  result.anchoredSeq = anchored;
  const last = records[records.length - 1];
  if (closed) {
    if (last.seq !== closed.seq) return fail(`the session was closed at seq ${closed.seq} (signed) but the export goes on to seq ${last.seq}`);
    if (session.endedAt !== closed.endedAt || session.endCause !== closed.endCause) return fail("the session summary's end differs from the signed one");
    result.complete = true;
  } else {
    result.unanchored = records.filter((r) => r.seq > anchored).length;
    if (session.endedAt) warnings.push('the summary says the session ended, but no checkpoint in the export signed its end');
  }
  result.ok = true;
  return result;
}

process.exitCode = main(process.argv.slice(2));
