import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { randomUUID } from 'node:crypto';
import type { Config, PolicyConfig, TargetConfig } from '../config/types.ts';
import type { Approval, AuditStore, NewEvent, ParamValue } from '../audit/types.ts';
import type { Identity } from '../identity/types.ts';
import { LoginRefused } from '../identity/types.ts';
import type { PolicyContext, PolicyEngine, ResultMasker, StatementDecision } from '../policy/types.ts';
import { ColumnDefCache, type ColumnDefinition } from '../protocol/columns.ts';
import type { Classification, ServerFlavor } from '../sql/types.ts';
import { shapeRepresentative } from '../sql/index.ts';
import { Com, Status } from '../protocol/constants.ts';
import { decodeBulkExecute, decodeChangeUser, decodeCommand, decodeExecute, commandName, type Command } from '../protocol/commands.ts';
import { encodeErr } from '../protocol/packets.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { ResponseShape } from '../protocol/results.ts';
import { ERRORS, errorMessage, type ErrorName } from '../errors.ts';
import type { Logger } from '../log.ts';
import { ConnectionClosed, PacketConn, type Message } from './conn.ts';
import { AuthExchange, ClientRefused, clientLogin, displayUser, type Authenticator, type RsaKey } from './login.ts';
import { connectUpstream, upstreamAuth, UpstreamError, type ServerInfo, type Upstream } from './upstream.ts';
import { relayResponse, type RelayHooks, type RelayResult, type ResultSetInfo } from './relay.ts';
import { Recorder, decisionRecord, resultRecords } from './recorder.ts';
import { StatementRegistry } from './statements.ts';
import { internalPing, internalQuery } from './internal.ts';
import type { ApprovalGate, ApprovalRequest } from './approval-gate.ts';
import type { Metrics } from './metrics.ts';
import { isGetDiagnostics, isShowWarnings, warningsMasker } from './warnings.ts';

/** Everything a session needs from the gateway around it. */
export interface GatewayContext {
  config: Config;
  instanceId: string;
  policy: PolicyEngine;
  store: AuditStore;
  auth: Authenticator;
  rsa: () => Promise<RsaKey>;
  tls: SecureContext | null;
  classify: (sql: string, flavor: ServerFlavor) => Classification;
  approvals: ApprovalGate | null;
  metrics: Metrics;
  log: Logger;
  sessions: SessionRegistry;
  serverInfo(target: TargetConfig): Promise<ServerInfo>;
  rememberServerInfo(target: TargetConfig, info: ServerInfo): void;
  /** True once shutdown began: new statements are refused. */
  shuttingDown(): boolean;
}

/** Live sessions by the connection id the gateway gave them (for KILL, metrics and shutdown). */
export class SessionRegistry {
  private next = 1;
  readonly live = new Map<number, Session>();

  allocate(): number {
    const id = this.next;
    this.next = this.next >= 0xfffffff0 ? 1 : this.next + 1;
    return id;
  }
}

/** Largest message accepted from a client or server (MySQL's own max_allowed_packet ceiling). */
const MAX_MESSAGE = 1024 * 1024 * 1024;
const LOGIN_TIMEOUT_MS = 10_000;

class SessionEnd extends Error {}

/**
 * One client connection: login, the upstream connection made with the vaulted credential, then the command loop.
 * Each command is classified, decided by policy, recorded, and its response relayed; state that outlives a command
 * (identity, policy, current schema, prepared statements, row counts) lives here, the byte work in relay.ts.
 */
export class Session {
  readonly connectionId: number;
  id: string = randomUUID();
  private readonly ctx: GatewayContext;
  private readonly target: TargetConfig;
  private readonly client: PacketConn;
  private readonly log: Logger;
  private upstream: Upstream | null = null;
  private identity: Identity | null = null;
  private policy: PolicyConfig | null = null;
  private recorder: Recorder | null = null;
  private db: string | null = null;
  private caps = 0;
  private flavor: ServerFlavor = { version: 0, mariadb: false };
  private noBackslashEscapes = false;
  private nonce: Buffer = Buffer.alloc(0);
  private tls = false;
  private readonly statements = new StatementRegistry();
  /** The column definitions of this session's recent result sets, decoded once per distinct set of bytes. */
  private readonly columnDefs = new ColumnDefCache();
  /** Masks values that the last warning-raising statement's warnings echo from masked columns (SHOW WARNINGS). */
  private warningScrub: ((message: string) => string | null) | null = null;
  /** `PREPARE name FROM '…'` statements of this session, by lower-cased name. */
  private readonly sqlPrepared = new Map<string, Classification>();
  private sessionRows = 0;
  private statementsRun = 0;
  /** A command is in flight (shutdown waits for it). */
  busy = false;
  /** The upstream may still be sending a response nobody will read: it must be closed abruptly, not with QUIT. */
  private upstreamDirty = false;
  private endCause: string | null = null;
  private readonly clientAddress: string;

  constructor(ctx: GatewayContext, target: TargetConfig, socket: Socket) {
    this.ctx = ctx;
    this.target = target;
    this.connectionId = ctx.sessions.allocate();
    this.clientAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    this.client = new PacketConn(socket, MAX_MESSAGE);
    this.log = ctx.log.child({ target: target.name, conn: this.connectionId, client: this.clientAddress });
  }

  get subject(): string | null {
    return this.identity?.subject ?? null;
  }

  get upstreamThreadId(): number | null {
    return this.upstream?.greeting.connectionId ?? null;
  }

  /** Runs the session to its end; never throws. */
  async run(): Promise<void> {
    const { metrics } = this.ctx;
    this.ctx.sessions.live.set(this.connectionId, this);
    metrics.connectionOpened(this.target.name);
    try {
      if (!(await this.login())) return;
      await this.commandLoop();
    } catch (e) {
      this.endCause ??= e instanceof ProtocolError ? `protocol error: ${e.message}` : e instanceof ConnectionClosed ? 'client closed' : `internal error: ${(e as Error).message}`;
      if (!(e instanceof ProtocolError) && !(e instanceof ConnectionClosed) && !(e instanceof SessionEnd)) {
        this.log.error('session failed', { error: (e as Error).stack ?? String(e) });
      } else if (e instanceof ProtocolError) {
        this.log.warn('protocol error; closing the connection', { error: e.message });
        this.sendError('PROTOCOL_ERROR', e.message, 0xff);
      }
    } finally {
      await this.close();
      this.ctx.sessions.live.delete(this.connectionId);
      metrics.connectionClosed(this.target.name);
    }
  }

  /** Ends the session from outside (shutdown, KILL of a gateway connection). */
  terminate(cause: string): void {
    this.endCause ??= cause;
    this.client.destroy(cause);
    this.upstream?.conn.destroy(cause);
  }

  private sendError(name: ErrorName, detail: string | undefined, seq: number): void {
    if (this.client.closed) return;
    const e = ERRORS[name];
    this.client.send(encodeErr(e.errno, e.sqlState, errorMessage(name, detail)), seq & 0xff);
  }

  private errorPayload(name: ErrorName, detail?: string): Buffer {
    const e = ERRORS[name];
    return encodeErr(e.errno, e.sqlState, errorMessage(name, detail));
  }

  // ---------------------------------------------------------------- login

  private async login(): Promise<boolean> {
    const { ctx } = this;
    const timer = setTimeout(() => this.client.destroy('login timed out'), LOGIN_TIMEOUT_MS);
    let user = '';
    try {
      let server: ServerInfo;
      try {
        server = await ctx.serverInfo(this.target);
      } catch (e) {
        // Without the server's greeting the gateway cannot offer honest capabilities: refuse up front.
        this.client.send(this.errorPayload('UPSTREAM_UNAVAILABLE', `target "${this.target.name}": ${(e as Error).message}`), 0);
        this.client.end('upstream unavailable');
        ctx.metrics.upstreamError(this.target.name);
        return false;
      }
      const login = await clientLogin(this.client, {
        server,
        connectionId: this.connectionId,
        tls: ctx.tls,
        requireTls: ctx.config.tls?.require ?? false,
        auth: ctx.auth,
        rsa: ctx.rsa,
      });
      user = login.handshake.user;
      this.caps = login.capabilities;
      this.tls = login.tls;
      this.identity = login.identity;
      this.nonce = Buffer.alloc(0);
      const policy = ctx.policy.selectPolicy(login.identity, this.target.name);
      if (!policy) {
        throw new LoginRefused(`no policy for groups [${login.identity.groups.join(', ')}] on target "${this.target.name}"`);
      }
      this.policy = policy;
      // The upstream session, with the client's result-shaping capabilities and its initial schema.
      let up: Upstream;
      try {
        up = await connectUpstream(this.target, {
          capabilities: login.capabilities,
          mariadbCapabilities: login.mariadbCapabilities,
          charset: login.handshake.charset,
          maxPacket: login.handshake.maxPacket || 16 * 1024 * 1024,
          database: login.handshake.database,
          attributes: this.upstreamAttributes(login.handshake.attributes),
          maxMessage: MAX_MESSAGE,
        });
      } catch (e) {
        ctx.metrics.upstreamError(this.target.name);
        const msg = e instanceof UpstreamError && e.err ? e.err.message : (e as Error).message;
        // A wrong initial schema is the client's error: pass the server's own error through.
        if (e instanceof UpstreamError && e.err && login.handshake.database && e.err.code === 1049) {
          this.client.send(encodeErr(e.err.code, e.err.sqlState, e.err.message), login.seq);
        } else {
          this.log.warn('upstream login failed', { error: msg });
          this.sendError('UPSTREAM_UNAVAILABLE', `target "${this.target.name}": ${msg}`, login.seq);
        }
        this.client.end('upstream unavailable');
        return false;
      }
      this.upstream = up;
      ctx.rememberServerInfo(this.target, up.info);
      this.flavor = { ...up.info.flavor, noBackslashEscapes: false };
      this.flavorNoBackslash = { ...up.info.flavor, noBackslashEscapes: true };
      this.noBackslashEscapes = (up.greeting.status & Status.NO_BACKSLASH_ESCAPES) !== 0;
      this.db = login.handshake.database || null;
      this.watchUpstream();
      const recorder = new Recorder(ctx.store, this.id);
      this.recorder = recorder;
      const startedAt = new Date().toISOString();
      try {
        await ctx.store.openSession({
          id: this.id,
          target: this.target.name,
          identity: login.identity,
          client: this.clientAddress,
          tls: login.tls,
          startedAt,
          instanceId: ctx.instanceId,
          policy: policy.name,
        });
      } catch {
        this.sendError('AUDIT_UNAVAILABLE', 'the session could not be recorded', login.seq);
        this.client.end('audit unavailable');
        return false;
      }
      const connect = recorder.event('connect', {
        db: this.db ?? undefined,
        detail: {
          identity: login.identity,
          via: login.identity.via,
          plugin: login.plugin,
          user: displayUser(user),
          client: this.clientAddress,
          tls: login.tls,
          target: this.target.name,
          policy: policy.name,
          upstreamThreadId: up.greeting.connectionId,
          upstreamTls: up.tls,
          attributes: Object.fromEntries(login.handshake.attributes),
        },
      });
      if (!(await recorder.append(connect))) {
        this.sendError('AUDIT_UNAVAILABLE', 'the session could not be recorded', login.seq);
        this.client.end('audit unavailable');
        return false;
      }
      // The server's own OK (status flags, session state) completes the client's login.
      this.client.send(up.ok, login.seq);
      this.log.info('session opened', { session: this.id, subject: login.identity.subject, via: login.identity.via, tls: login.tls });
      return true;
    } catch (e) {
      if (e instanceof LoginRefused) {
        if (e instanceof ClientRefused) user = e.user;
        ctx.metrics.loginFailed(this.target.name);
        this.log.warn('login refused', { user: displayUser(user), reason: e.reason });
        this.endCause = `login refused: ${e.reason}`;
        const seq = e instanceof ClientRefused ? e.seq : this.lastClientSeq() + 1;
        const e1045 = ERRORS.LOGIN_REFUSED;
        this.client.send(encodeErr(e1045.errno, e1045.sqlState, `${e1045.prefix} '${displayUser(user)}': ${e.reason}`), seq);
        this.client.end('login refused');
        return false;
      }
      if (e instanceof ProtocolError || e instanceof ConnectionClosed) {
        ctx.metrics.loginFailed(this.target.name);
        this.endCause = `login failed: ${e.message}`;
        this.log.info('login aborted', { error: e.message });
        this.client.destroy(e.message);
        return false;
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The sequence id of the last packet read from the client. */
  private lastClientSeq(): number {
    return this.client.framer.seq;
  }

  /** Connection attributes passed upstream, with who is behind the session (visible in processlist tools). */
  private upstreamAttributes(attrs: Map<string, string>): Map<string, string> {
    const out = new Map(attrs);
    out.set('_agentgate_session', this.id);
    if (this.identity) out.set('_agentgate_subject', this.identity.subject.slice(0, 200));
    return out;
  }

  /** While idle, an upstream that closes (idle timeout, server restart, KILL) ends the client's connection too. */
  private watchUpstream(): void {
    const up = this.upstream!;
    up.conn.socket.once('close', () => {
      if (!this.busy && !this.client.closed) {
        this.endCause ??= 'upstream closed';
        this.client.destroy('upstream closed');
      }
    });
  }

  // ---------------------------------------------------------------- command loop

  private async commandLoop(): Promise<void> {
    for (;;) {
      let msg: Message;
      try {
        msg = await this.client.readMessage();
      } catch (e) {
        if (e instanceof ConnectionClosed) {
          this.endCause ??= this.upstream?.conn.closed ? 'upstream closed' : 'client closed';
          return;
        }
        throw e;
      }
      if (msg.seq !== 0) throw new ProtocolError(`a command must start with sequence id 0, got ${msg.seq}`);
      const cmd = decodeCommand(msg.payload);
      if (cmd.kind === 'quit') {
        this.endCause = 'quit';
        this.upstream?.conn.send(Buffer.from([Com.QUIT]), 0);
        return;
      }
      this.busy = true;
      const sentBefore = this.client.socket.bytesWritten;
      const readBefore = this.client.socket.bytesRead;
      try {
        await this.dispatch(cmd, msg);
      } finally {
        this.busy = false;
        this.ctx.metrics.bytes(this.target.name, this.client.socket.bytesRead - readBefore, this.client.socket.bytesWritten - sentBefore);
      }
      if (this.upstream?.conn.closed && !this.client.closed) {
        this.endCause ??= 'upstream closed';
        return;
      }
      if (this.client.closed) {
        this.endCause ??= 'client closed';
        return;
      }
    }
  }

  private async dispatch(cmd: Command, msg: Message): Promise<void> {
    switch (cmd.kind) {
      case 'query':
        return this.onStatement('query', cmd.sql, msg);
      case 'init_db':
        return this.onInitDb(cmd.db, msg);
      case 'field_list':
        return this.onSimple('field_list', msg, 'field_list', { sql: `FIELD LIST ${cmd.table}` }, `DESCRIBE ${quoteIdent(cmd.table)}`);
      case 'statistics':
        return this.onSimple('statistics', msg, 'statistics');
      case 'ping':
        return this.onSimple('ping', msg, 'simple');
      case 'process_kill':
        return this.onStatement('process_kill', `KILL ${cmd.id}`, msg);
      case 'change_user':
        return this.onChangeUser(msg);
      case 'stmt_prepare':
        return this.onPrepare(cmd.sql, msg);
      case 'stmt_execute':
        return this.onExecute(cmd.stmtId, msg);
      case 'stmt_bulk_execute':
        return this.onExecute(cmd.stmtId, msg, true);
      case 'stmt_send_long_data':
        return this.onLongData(cmd.stmtId, cmd.param, cmd.data, msg);
      case 'stmt_close':
        return this.onStmtClose(cmd.stmtId, msg);
      case 'stmt_reset':
        return this.onSimple('stmt_reset', msg, 'simple', { stmtId: cmd.stmtId }, undefined, () => {
          const st = this.statements.get(cmd.stmtId);
          if (st) {
            this.statements.takeLongData(st);
            st.cursor = null;
          }
        });
      case 'stmt_fetch':
        return this.onFetch(cmd.stmtId, msg);
      case 'set_option':
        return this.onSimple('set_option', msg, 'simple', { detail: { option: cmd.option } });
      case 'reset_connection':
        return this.onSimple('reset_connection', msg, 'simple', {}, undefined, () => this.statements.clear());
      case 'quit':
        return;
      case 'other':
        return this.onUnsupported(cmd.code, msg);
    }
  }

  private policyContext(): PolicyContext {
    return { identity: this.identity!, target: this.target.name, db: this.db };
  }

  /** The server's flavor with the session's NO_BACKSLASH_ESCAPES (from every status), which changes how strings lex. */
  private currentFlavor(): ServerFlavor {
    return this.noBackslashEscapes ? this.flavorNoBackslash : this.flavor;
  }

  private flavorNoBackslash: ServerFlavor = { version: 0, mariadb: false, noBackslashEscapes: true };

  /**
   * Classifies and decides. When a `minRows` rule needs the row estimate, runs EXPLAIN on the upstream and decides
   * again (`estimate: false` at PREPARE: the parameters are not known yet, so the estimate waits for EXECUTE).
   */
  private async decide(sql: string, opts: { estimate?: boolean } = {}): Promise<{ cls: Classification; decision: StatementDecision; estimate?: number }> {
    const cls = this.sqlPreparedView(this.ctx.classify(sql, this.currentFlavor()));
    let decision = this.ctx.policy.decide(this.policy!, cls, this.policyContext());
    if (decision.needsEstimate && opts.estimate !== false) {
      const estimate = await this.estimateRows(decision.estimateStatements ?? []);
      decision = this.ctx.policy.decide(this.policy!, cls, this.policyContext(), estimate);
      return { cls, decision, estimate };
    }
    return { cls, decision };
  }

  /**
   * The largest EXPLAIN row estimate of these statements (with `?` replaced by the parameters' values);
   * Infinity when any cannot be estimated, so a `minRows` rule fails closed.
   */
  private async estimateRows(texts: readonly string[], params?: ParamValue[]): Promise<number> {
    if (texts.length === 0) return Number.POSITIVE_INFINITY;
    let max = 0;
    for (let text of texts) {
      if (params && params.length) {
        const inlined = inlineParams(text, params);
        if (inlined === null) return Number.POSITIVE_INFINITY;
        text = inlined;
      }
      const r = await internalQuery(this.upstream!.conn, this.caps, `EXPLAIN ${text}`);
      if (r.error) return Number.POSITIVE_INFINITY;
      const col = r.columns.findIndex((c) => c.name.toLowerCase() === 'rows');
      if (col < 0) return Number.POSITIVE_INFINITY;
      for (const row of r.rows) {
        const v = Number(row[col]);
        if (!Number.isFinite(v)) return Number.POSITIVE_INFINITY;
        if (v > max) max = v;
      }
    }
    return max;
  }

  /**
   * SQL-level prepared statements: `EXECUTE s` is judged (and its result masked) as the statement `s` was prepared
   * from, remembered at `PREPARE s FROM '…'`. An unknown `s` keeps the EXECUTE's own (unparsed, fail-closed) view.
   */
  private sqlPreparedView(cls: Classification): Classification {
    if (!cls.kinds.includes('prepare') || this.sqlPrepared.size === 0) return cls;
    let changed = false;
    const statements = cls.statements.map((st) => {
      const m = /^execute\s+(`(?:[^`]|``)+`|[\w$]+)/i.exec(st.text);
      const inner = m ? this.sqlPrepared.get(unquoteIdent(m[1]!).toLowerCase()) : undefined;
      if (!inner) return [st];
      changed = true;
      return inner.statements;
    });
    if (!changed) return cls;
    const flat = statements.flat();
    const kinds = new Set(flat.flatMap((st) => st.kinds));
    return { ...cls, kinds: cls.kinds.filter((k) => kinds.has(k) || k === 'prepare').concat([...kinds].filter((k) => !cls.kinds.includes(k))), statements: flat, parsed: flat.every((st) => st.parsed) };
  }

  /** Remembers `PREPARE s FROM '…'` and forgets `DEALLOCATE PREPARE s` once the server accepted them. */
  private trackSqlPrepared(cls: Classification, res: RelayResult): void {
    cls.statements.forEach((st, i) => {
      const r = res.results[i];
      if (!r || r.error) return;
      const prep = /^prepare\s+(`(?:[^`]|``)+`|[\w$]+)\s+from\b/i.exec(st.text);
      if (prep) {
        const inner = st.prepared;
        const name = unquoteIdent(prep[1]!).toLowerCase();
        if (inner && inner.length) this.sqlPrepared.set(name, { kinds: [...new Set(inner.flatMap((x) => x.kinds))], statements: inner, fingerprint: cls.fingerprint, parsed: inner.every((x) => x.parsed) });
        else this.sqlPrepared.delete(name);
        return;
      }
      const dealloc = /^(?:deallocate|drop)\s+prepare\s+(`(?:[^`]|``)+`|[\w$]+)/i.exec(st.text);
      if (dealloc) this.sqlPrepared.delete(unquoteIdent(dealloc[1]!).toLowerCase());
    });
  }

  /** Refuses a command with an agentgate error, after recording it. */
  private async refuse(ev: NewEvent, name: ErrorName, detail: string | undefined, started: number): Promise<void> {
    const e = ERRORS[name];
    const message = errorMessage(name, detail);
    ev.result = { error: { code: e.errno, sqlState: e.sqlState, message } };
    ev.durationMs = performance.now() - started;
    const ok = await this.recorder!.append(ev);
    if (ok) this.sendError(name, detail, 1);
    else this.sendError('AUDIT_UNAVAILABLE', 'the refusal could not be recorded', 1);
    this.ctx.metrics.statement(this.target.name, name === 'POLICY_DENIED' || name === 'APPROVAL_DENIED' ? 'deny' : 'refused');
  }

  /** Runs the approval flow; returns null when the statement may run, or the error to refuse it with. */
  private async approve(ev: NewEvent, req: ApprovalRequest, mode: 'hold' | 'retry'): Promise<{ name: ErrorName; detail: string } | null> {
    const gate = this.ctx.approvals;
    if (!gate) return { name: 'APPROVAL_REQUIRED', detail: `${req.reason}; approvals are not configured on this gateway` };
    if (mode === 'retry') {
      const r = await gate.retry(req);
      ev.approval = { id: r.approval.id, status: r.run ? 'approved' : r.approval.status, by: r.approval.votes.filter((v) => v.decision === 'approve').map((v) => v.by), reason: r.approval.reason ?? undefined };
      await this.recordApproval(r.approval, r.run ? 'used' : 'requested');
      if (r.run) return null;
      return { name: 'APPROVAL_REQUIRED', detail: `approval ${r.approval.id} is ${r.approval.status}; run the identical statement again once it is approved` };
    }
    const a = await gate.hold(req, {
      keepAlive: () => internalPing(this.upstream!.conn),
      cancelled: () => this.client.closed,
    });
    ev.approval = {
      id: a.id,
      status: a.status,
      by: a.votes.filter((v) => v.decision === (a.status === 'denied' ? 'deny' : 'approve')).map((v) => v.by),
      reason: a.reason ?? undefined,
    };
    await this.recordApproval(a, 'decided');
    if (a.status === 'approved') return null;
    if (a.status === 'denied') return { name: 'APPROVAL_DENIED', detail: `${a.id}${a.decidedBy ? ` by ${a.decidedBy}` : ''}${a.reason ? `: ${a.reason}` : ''}` };
    return { name: 'APPROVAL_TIMED_OUT', detail: `${a.id} was not decided within ${Math.round(this.ctx.config.approvals.timeout / 1000)} s` };
  }

  /** The decision as its own event, just before the statement it released or stopped (which links to it by id). */
  private async recordApproval(a: Approval, what: 'requested' | 'decided' | 'used'): Promise<void> {
    const ev = this.recorder!.event('approval', {
      sql: a.sql,
      params: a.params,
      kinds: a.kinds,
      approval: { id: a.id, status: a.status, by: a.votes.map((v) => v.by), reason: a.reason ?? undefined },
      detail: { what, rule: a.rule, policy: a.policy, votes: a.votes, createdAt: a.createdAt, decidedAt: a.decidedAt, estimatedRows: a.estimatedRows },
    });
    await this.recorder!.append(ev);
  }

  private relayHooks(cls: Classification | null, allowInfile: boolean, sql?: string): RelayHooks {
    const p = this.policy!;
    const maxRows = p.maxRows;
    const maxSession = p.maxRowsPerSession;
    const ctx = this.policyContext();
    const warnings = sql !== undefined && isShowWarnings(sql) ? this.warningScrub : null;
    let scrub: ((m: string) => string | null) | null | undefined;
    return {
      onColumns: (columns, index, prepare) =>
        (warnings && !prepare && warningsMasker(columns, warnings, this.relayBinary)) ||
        this.cachedMasker(p, columns, cls, index, ctx, prepare || this.relayBinary),
      onError: (message) => {
        if (scrub === undefined) scrub = this.ctx.policy.messageScrubber(p, cls, ctx);
        return scrub ? scrub(message) : null;
      },
      rowLimit:
        maxRows === undefined && maxSession === undefined
          ? null
          : (n) => {
              if (maxRows !== undefined && n > maxRows) return `${ERRORS.ROW_LIMIT.prefix}: policy "${p.name}" allows at most ${maxRows} rows per result`;
              if (maxSession !== undefined && this.sessionRows + n > maxSession) return `${ERRORS.ROW_LIMIT.prefix}: policy "${p.name}" allows at most ${maxSession} rows per session`;
              return null;
            },
      allowInfile: () => allowInfile,
    };
  }

  private relayBinary = false;

  /**
   * A ResultMasker keeps no state between rows, so the one made for a statement's result is reused while
   * the statement, result index, protocol, policy, current schema and column definitions are the same. Texts
   * that differ only in literals count as the same statement when the classifier gave them one shape (a masker
   * depends on the tables and the output columns' lineage, never on the text).
   */
  private readonly maskers = new WeakMap<Classification, MaskerEntry[]>();

  private cachedMasker(p: PolicyConfig, columns: readonly ColumnDefinition[], statement: Classification | null, index: number, ctx: PolicyContext, binary: boolean): ResultMasker | null {
    if (!statement) return this.ctx.policy.masker(p, columns, statement, index, ctx, binary);
    const cls = shapeRepresentative(statement);
    let list = this.maskers.get(cls);
    if (list) {
      for (const e of list) {
        if (e.index === index && e.binary === binary && e.policy === p && e.db === ctx.db && sameColumns(e.columns, columns)) return e.masker;
      }
    } else {
      list = [];
      this.maskers.set(cls, list);
    }
    const masker = this.ctx.policy.masker(p, columns, cls, index, ctx, binary);
    if (list.length >= 4) list.shift();
    list.push({ index, binary, policy: p, db: ctx.db, columns, masker });
    return masker;
  }

  /**
   * Forwards a command and relays its response; the event is completed with the results and appended before the
   * response's last bytes reach the client.
   */
  private async forwardAndRelay(
    msg: Message,
    shape: ResponseShape,
    ev: NewEvent,
    cls: Classification | null,
    started: number,
    opts: { allowInfile?: boolean; cursor?: ResultSetInfo | null; sql?: string } = {},
  ): Promise<RelayResult> {
    const up = this.upstream!;
    if (!this.recorder!.healthy) {
      // Refuse rather than run unrecorded; appending the refusal is also how a recovered store is noticed.
      await this.refuse(ev, 'AUDIT_UNAVAILABLE', 'the statement was not run', started);
      return emptyRelay();
    }
    if (this.ctx.shuttingDown()) {
      await this.refuse(ev, 'SHUTTING_DOWN', 'the statement was not run', started);
      return emptyRelay();
    }
    up.conn.writev(msg.raw);
    this.relayBinary = shape === 'execute' || shape === 'fetch';
    const res = await relayResponse({
      client: this.client,
      upstream: up.conn,
      shape,
      caps: this.caps,
      captureRows: this.ctx.config.audit.captureRows,
      hooks: this.relayHooks(cls, opts.allowInfile ?? false, opts.sql),
      cursor: opts.cursor,
      columnDefs: this.columnDefs,
      finish: async (r) => {
        Object.assign(ev, resultRecords(r.results, cls));
        ev.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
        if (r.failure) ev.detail = { ...(ev.detail ?? {}), failure: r.failure };
        const ok = await this.recorder!.append(ev);
        if (!ok) {
          this.ctx.metrics.auditFailure();
          return this.errorPayload('AUDIT_UNAVAILABLE', 'the statement ran but its record could not be written');
        }
        return null;
      },
    });
    this.noBackslashEscapes = (res.status & Status.NO_BACKSLASH_ESCAPES) !== 0;
    for (const r of res.results) if (r.rowCount) this.sessionRows += r.rowCount;
    // The server keeps the warnings of the last statement that raised any; SHOW WARNINGS lists them later.
    if (!(opts.sql !== undefined && isShowWarnings(opts.sql)) && res.results.some((r) => (r.warnings ?? 0) > 0 || r.error)) {
      this.warningScrub = this.ctx.policy.messageScrubber(this.policy!, cls, this.policyContext());
    }
    if (res.upstreamGone) {
      this.endCause ??= 'upstream closed';
      throw new SessionEnd('upstream closed');
    }
    if (res.clientGone) {
      this.upstreamDirty = true;
      this.endCause ??= 'client went away during a result';
      throw new SessionEnd('client closed');
    }
    return res;
  }

  private async onStatement(type: 'query' | 'process_kill', sql: string, msg: Message): Promise<void> {
    const started = performance.now();
    const { cls, decision, estimate } = await this.decide(sql);
    this.statementsRun++;
    const ev = this.recorder!.event(type, {
      sql,
      kinds: cls.kinds,
      fingerprint: cls.fingerprint,
      decision: decisionRecord(decision),
    });
    if (estimate !== undefined) ev.detail = { estimatedRows: Number.isFinite(estimate) ? estimate : null };
    if (decision.action === 'deny') return this.refuse(ev, 'POLICY_DENIED', decision.reason, started);
    if (decision.action === 'approve') {
      const refusal = await this.approve(ev, this.approvalRequest(sql, undefined, cls, decision, estimate), decision.mode);
      if (refusal) return this.refuse(ev, refusal.name, refusal.detail, started);
    }
    const localInfile = cls.statements.some((s) => s.localInfile);
    if (localInfile && !decision.allowLocalInfile) {
      return this.refuse(ev, 'LOCAL_INFILE_REFUSED', 'a policy rule must allow kind load_data explicitly', started);
    }
    if (this.warningScrub && isGetDiagnostics(sql)) {
      return this.refuse(ev, 'POLICY_DENIED', 'GET DIAGNOSTICS would copy messages that may echo masked values into variables; use SHOW WARNINGS', started);
    }
    let out = msg;
    const kill = this.translateKill(cls, type === 'process_kill' ? msg : null);
    if (kill === 'foreign') return this.refuse(ev, 'POLICY_DENIED', 'KILL may only target your own connections through this gateway', started);
    if (kill) out = kill;
    this.ctx.metrics.statement(this.target.name, decision.action === 'approve' ? 'approved' : 'allow');
    const res = await this.forwardAndRelay(out, type === 'process_kill' ? 'simple' : 'query', ev, cls, started, { allowInfile: localInfile, sql });
    this.afterStatement(cls, res);
    if (cls.kinds.includes('prepare')) this.trackSqlPrepared(cls, res);
  }

  /** Tracks the current schema after a successful `USE`. */
  private afterStatement(cls: Classification, res: RelayResult): void {
    cls.statements.forEach((s, i) => {
      if (!s.kinds.includes('use')) return;
      const r = res.results[i];
      if (!r || r.error) return;
      const m = /^use\s+(`(?:[^`]|``)+`|[^\s;]+)/i.exec(s.text);
      if (m) this.db = unquoteIdent(m[1]!);
    });
  }

  /**
   * KILL names connection ids. Clients learn the gateway's id (from its greeting), so `KILL [QUERY] n` is rewritten
   * to the upstream thread of gateway session n — only when that session belongs to the same subject.
   */
  private translateKill(cls: Classification, processKill: Message | null): Message | 'foreign' | null {
    if (!cls.kinds.includes('kill')) return null;
    if (cls.statements.length !== 1) return 'foreign';
    const m = /^kill\s+(?:(query|connection)\s+)?(\d+)\s*$/i.exec(cls.statements[0]!.text);
    if (!m) return 'foreign';
    const target = this.ctx.sessions.live.get(Number(m[2]));
    if (!target || target.subject !== this.subject || target.upstreamThreadId === null) return 'foreign';
    const tid = target.upstreamThreadId;
    if (processKill) {
      const payload = Buffer.alloc(5);
      payload[0] = Com.PROCESS_KILL;
      payload.writeUInt32LE(tid, 1);
      return { payload, seq: 0, nextSeq: 1, raw: [frame(payload, 0)] };
    }
    const sql = `KILL ${m[1] ? m[1].toUpperCase() + ' ' : ''}${tid}`;
    const payload = Buffer.concat([Buffer.from([Com.QUERY]), Buffer.from(sql)]);
    return { payload, seq: 0, nextSeq: 1, raw: [frame(payload, 0)] };
  }

  private approvalRequest(sql: string, params: ParamValue[] | undefined, cls: Classification, d: StatementDecision, estimate?: number): ApprovalRequest {
    return {
      sessionId: this.id,
      target: this.target.name,
      identity: this.identity!,
      sql,
      params,
      kinds: cls.kinds,
      fingerprint: cls.fingerprint,
      policy: d.policy,
      rule: d.rule,
      reason: d.reason,
      minApprovals: d.minApprovals,
      estimatedRows: estimate,
    };
  }

  private async onInitDb(db: string, msg: Message): Promise<void> {
    const started = performance.now();
    const { cls, decision } = await this.decide(`USE ${quoteIdent(db)}`);
    this.statementsRun++;
    const ev = this.recorder!.event('init_db', { db, kinds: cls.kinds, decision: decisionRecord(decision) });
    if (decision.action !== 'allow') return this.refuse(ev, 'POLICY_DENIED', decision.reason, started);
    const res = await this.forwardAndRelay(msg, 'simple', ev, cls, started);
    if (res.results[0] && !res.results[0].error) this.db = db;
  }

  /** Commands with a fixed, small response. `policySql`: the statement the command amounts to, when policy applies. */
  private async onSimple(
    type: NewEvent['type'],
    msg: Message,
    shape: ResponseShape,
    fields: Partial<NewEvent> = {},
    policySql?: string,
    after?: () => void,
  ): Promise<void> {
    const started = performance.now();
    const ev = this.recorder!.event(type, fields);
    if (policySql) {
      const { cls, decision } = await this.decide(policySql);
      ev.kinds = cls.kinds;
      ev.decision = decisionRecord(decision);
      if (decision.action !== 'allow') return this.refuse(ev, 'POLICY_DENIED', decision.reason, started);
    }
    const res = await this.forwardAndRelay(msg, shape, ev, null, started);
    if (after && res.results[0] && !res.results[0].error) after();
  }

  private async onPrepare(sql: string, msg: Message): Promise<void> {
    const started = performance.now();
    const { cls, decision } = await this.decide(sql, { estimate: false });
    const ev = this.recorder!.event('prepare', { sql, kinds: cls.kinds, fingerprint: cls.fingerprint, decision: decisionRecord(decision) });
    // Denied statements are refused at PREPARE; statements needing approval are held at each EXECUTE, with their
    // parameters, so the approver sees exactly what will run.
    if (decision.action === 'deny' && !decision.needsEstimate) return this.refuse(ev, 'POLICY_DENIED', decision.reason, started);
    if (cls.statements.some((s) => s.localInfile) && !decision.allowLocalInfile) {
      return this.refuse(ev, 'LOCAL_INFILE_REFUSED', 'a policy rule must allow kind load_data explicitly', started);
    }
    const res = await this.forwardAndRelay(msg, 'prepare', ev, cls, started);
    if (res.prepared) {
      ev.stmtId = res.prepared.stmtId;
      this.statements.add({
        id: res.prepared.stmtId,
        sql,
        cls,
        decision,
        paramCount: res.prepared.params,
        columns: res.prepared.columns,
        types: null,
        longData: new Map(),
        longDataBytes: 0,
        cursor: null,
      });
    }
  }

  /**
   * COM_STMT_EXECUTE, and MariaDB's COM_STMT_BULK_EXECUTE (`bulk`: many rows of parameters in one command; all of
   * them are recorded, and an approval shows all of them).
   */
  private async onExecute(stmtId: number, msg: Message, bulk = false): Promise<void> {
    const started = performance.now();
    const st = this.statements.get(stmtId);
    this.statementsRun++;
    if (!st) {
      // Unknown to us, so unknown to the server too: forward and let it answer (and record what happened).
      const ev = this.recorder!.event('execute', { stmtId, detail: bulk ? { bulk: true } : undefined });
      await this.forwardAndRelay(msg, 'execute', ev, null, started);
      return;
    }
    let params: ParamValue[];
    let bulkRows: ParamValue[][] | null = null;
    if (bulk) {
      const req = decodeBulkExecute(msg.payload, st.paramCount, st.types);
      st.types = req.types;
      bulkRows = req.rows;
      params = req.rows[0] ?? [];
    } else {
      const req = decodeExecute(msg.payload, st.paramCount, st.types, this.statements.takeLongData(st));
      st.types = req.types;
      params = req.params;
    }
    let decision = st.decision;
    let estimate: number | undefined;
    if (decision.needsEstimate) {
      if (bulkRows) {
        // Every row runs the statement: the estimate is the sum over the rows.
        estimate = 0;
        for (const row of bulkRows) estimate += await this.estimateRows(decision.estimateStatements ?? [], row);
      } else {
        estimate = await this.estimateRows(decision.estimateStatements ?? [], params);
      }
      decision = this.ctx.policy.decide(this.policy!, st.cls, this.policyContext(), estimate);
    }
    const ev = this.recorder!.event('execute', {
      stmtId: st.id,
      sql: st.sql,
      params,
      kinds: st.cls.kinds,
      fingerprint: st.cls.fingerprint,
      decision: decisionRecord(decision),
    });
    if (estimate !== undefined) ev.detail = { estimatedRows: Number.isFinite(estimate) ? estimate : null };
    if (bulkRows) ev.detail = { ...ev.detail, bulk: { rows: bulkRows.length, params: bulkRows } };
    if (decision.action === 'deny') return this.refuse(ev, 'POLICY_DENIED', decision.reason, started);
    if (decision.action === 'approve') {
      const refusal = await this.approve(ev, this.approvalRequest(st.sql, bulkRows ? bulkRows.flat() : params, st.cls, decision, estimate), decision.mode);
      if (refusal) return this.refuse(ev, refusal.name, refusal.detail, started);
    }
    this.ctx.metrics.statement(this.target.name, decision.action === 'approve' ? 'approved' : 'allow');
    const res = await this.forwardAndRelay(msg, 'execute', ev, st.cls, started, { allowInfile: decision.allowLocalInfile ?? false });
    st.cursor = res.cursorOpened ? res.lastColumns : null;
    this.afterStatement(st.cls, res);
  }

  private async onFetch(stmtId: number, msg: Message): Promise<void> {
    const started = performance.now();
    const st = this.statements.get(stmtId);
    const ev = this.recorder!.event('fetch', { stmtId, sql: st?.sql });
    await this.forwardAndRelay(msg, 'fetch', ev, st?.cls ?? null, started, { cursor: st?.cursor ?? null });
  }

  private async onLongData(stmtId: number, param: number, data: Buffer, msg: Message): Promise<void> {
    const st = this.statements.get(stmtId);
    if (st) this.statements.appendLongData(st, param, data);
    const ev = this.recorder!.event('long_data', { stmtId, detail: { param, bytes: data.length } });
    // No response comes for this command: it is recorded before it is forwarded.
    if (!(await this.recorder!.append(ev))) {
      // The protocol has no way to refuse it; the execute that follows will be refused instead.
      return;
    }
    this.upstream!.conn.writev(msg.raw);
  }

  private async onStmtClose(stmtId: number, msg: Message): Promise<void> {
    const st = this.statements.get(stmtId);
    if (st) this.statements.delete(st.id);
    const ev = this.recorder!.event('stmt_close', { stmtId });
    await this.recorder!.append(ev);
    this.upstream!.conn.writev(msg.raw);
  }

  private async onUnsupported(code: number, msg: Message): Promise<void> {
    const started = performance.now();
    const name = commandName(code);
    const ev = this.recorder!.event('unknown', {
      detail: { command: name, bytes: msg.payload.length, hex: msg.payload.subarray(0, 1024).toString('hex') },
    });
    await this.refuse(ev, 'COMMAND_UNSUPPORTED', name, started);
  }

  /**
   * COM_CHANGE_USER: the new user authenticates through the gateway like a login (its scramble was made with the
   * greeting's nonce, so the exchange restarts with an auth switch); the upstream session is reset with the vaulted
   * credential. A refusal ends the connection, as MySQL does.
   */
  private async onChangeUser(msg: Message): Promise<void> {
    const started = performance.now();
    const cu = decodeChangeUser(msg.payload, this.caps);
    const ex = new AuthExchange(this.client, {
      server: this.upstream!.info,
      connectionId: this.connectionId,
      tls: this.ctx.tls,
      requireTls: false,
      auth: this.ctx.auth,
      rsa: this.ctx.rsa,
    }, this.tls, 1, this.nonce);
    let identity: Identity;
    try {
      // The nonce the client used is the greeting's, which a change of user cannot reuse safely: ask again.
      identity = await ex.authenticate(cu.user, 'agentgate_restart', Buffer.alloc(0));
    } catch (e) {
      if (!(e instanceof LoginRefused)) throw e;
      const ev = this.recorder!.event('change_user', { detail: { user: displayUser(cu.user), refused: e.reason } });
      ev.durationMs = performance.now() - started;
      await this.recorder!.append(ev);
      const e1045 = ERRORS.LOGIN_REFUSED;
      this.client.send(encodeErr(e1045.errno, e1045.sqlState, `${e1045.prefix} '${displayUser(cu.user)}': ${e.reason}`), ex.seq);
      this.endCause = `change user refused: ${e.reason}`;
      throw new SessionEnd('change user refused');
    }
    const policy = this.ctx.policy.selectPolicy(identity, this.target.name);
    if (!policy) {
      const e1045 = ERRORS.LOGIN_REFUSED;
      this.client.send(encodeErr(e1045.errno, e1045.sqlState, `${e1045.prefix} '${displayUser(cu.user)}': no policy for groups [${identity.groups.join(', ')}] on target "${this.target.name}"`), ex.seq);
      this.endCause = 'change user refused: no policy';
      throw new SessionEnd('change user refused');
    }
    // Reset the upstream session as the server would for a change of user, logging in again with the vault.
    const up = this.upstream!;
    const ok = await upstreamAuth(up, this.target, {
      user: this.target.upstream.user,
      authResponse: Buffer.alloc(0),
      database: cu.database,
      charset: cu.charset,
      authPlugin: up.greeting.authPlugin,
      attributes: this.upstreamAttributes(cu.attributes),
    });
    // The audit session ends with the old identity; the new identity gets its own session.
    const ev = this.recorder!.event('change_user', { db: cu.database || undefined, detail: { from: this.identity, to: identity } });
    ev.durationMs = performance.now() - started;
    await this.recorder!.append(ev);
    await this.ctx.store.closeSession(this.id, new Date().toISOString(), `change user to ${identity.subject}`);
    this.identity = identity;
    this.policy = policy;
    this.db = cu.database || null;
    this.statements.clear();
    this.id = randomUUID();
    this.recorder = new Recorder(this.ctx.store, this.id);
    await this.ctx.store.openSession({
      id: this.id,
      target: this.target.name,
      identity,
      client: this.clientAddress,
      tls: this.tls,
      startedAt: new Date().toISOString(),
      instanceId: this.ctx.instanceId,
      policy: policy.name,
    });
    await this.recorder.append(this.recorder.event('connect', { db: this.db ?? undefined, detail: { identity, via: identity.via, changeUser: true, client: this.clientAddress, tls: this.tls } }));
    this.client.send(ok, ex.seq);
  }

  // ---------------------------------------------------------------- close

  private async close(): Promise<void> {
    const cause = this.endCause ?? 'closed';
    if (this.recorder) {
      const ev = this.recorder.event('disconnect', { detail: { cause } });
      await this.recorder.append(ev);
      try {
        await this.ctx.store.closeSession(this.id, new Date().toISOString(), cause);
      } catch (e) {
        this.log.warn('could not record the end of a session', { error: (e as Error).message });
      }
      this.log.info('session closed', { session: this.id, cause, statements: this.statementsRun });
    }
    if (!this.client.closed) this.client.end(cause);
    if (this.upstream && !this.upstream.conn.closed) {
      if (this.upstreamDirty || this.busy) {
        // A server busy writing a result does not read our QUIT; closing the socket makes it stop at once.
        this.upstream.conn.destroy(cause);
      } else {
        if (cause !== 'quit') this.upstream.conn.send(Buffer.from([Com.QUIT]), 0);
        this.upstream.conn.end(cause);
      }
    }
  }
}

interface MaskerEntry {
  index: number;
  binary: boolean;
  policy: PolicyConfig;
  db: string | null;
  columns: readonly ColumnDefinition[];
  masker: ResultMasker | null;
}

function sameColumns(a: readonly ColumnDefinition[], b: readonly ColumnDefinition[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name || x.orgName !== y.orgName || x.table !== y.table || x.orgTable !== y.orgTable || x.schema !== y.schema ||
      x.type !== y.type || x.charset !== y.charset || x.flags !== y.flags || x.decimals !== y.decimals || x.length !== y.length) return false;
  }
  return true;
}

function emptyRelay(): RelayResult {
  return { results: [], lastColumns: null, cursorOpened: false, prepared: null, status: 0, failure: null, clientGone: false, upstreamGone: false };
}

function frame(payload: Buffer, seq: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

export function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

function unquoteIdent(s: string): string {
  return s.startsWith('`') ? s.slice(1, -1).replace(/``/g, '`') : s;
}

/**
 * The statement text with `?` placeholders replaced by SQL literals of the parameters, for EXPLAIN only (never
 * executed). Returns null when a placeholder count mismatch makes that unsafe.
 */
export function inlineParams(sql: string, params: ParamValue[]): string | null {
  let i = 0;
  let out = '';
  let quote: string | null = null;
  for (let k = 0; k < sql.length; k++) {
    const c = sql[k]!;
    if (quote) {
      out += c;
      if (c === '\\' && quote !== '`') {
        out += sql[++k] ?? '';
      } else if (c === quote) {
        quote = null;
      }
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      quote = c;
      out += c;
    } else if (c === '?') {
      const p = params[i++];
      if (!p) return null;
      out += literal(p);
    } else {
      out += c;
    }
  }
  return i === params.length ? out : null;
}

function literal(p: ParamValue): string {
  if (p.value === null) return 'NULL';
  if (typeof p.value === 'number' || typeof p.value === 'boolean') return String(p.value);
  if (p.encoding === 'base64') return `X'${Buffer.from(p.value, 'base64').toString('hex')}'`;
  return `X'${Buffer.from(p.value, 'utf8').toString('hex')}'`;
}

export { Session as ClientSession };
