import { createServer, type Server } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Config, TargetConfig } from '../config/types.ts';
import type { AuditStore } from '../audit/types.ts';
import { openAuditStore } from '../audit/index.ts';
import { createIdentityVerifier, type IdentityVerifier } from '../identity/index.ts';
import { createPolicyEngine } from '../policy/index.ts';
import type { PolicyEngine } from '../policy/types.ts';
import { ClassifierCache } from '../sql/index.ts';
import { createLogger, type Logger } from '../log.ts';
import { buildApi, type ApiServer } from '../api/index.ts';
import { loadHashKey, loadInstanceId, loadRsaKey, loadSigningKey } from './keys.ts';
import { Metrics } from './metrics.ts';
import { Session, SessionRegistry, type GatewayContext } from './session.ts';
import { probeUpstream, type ServerInfo } from './upstream.ts';
import { ApprovalService } from './approvals.ts';
import type { RsaKey } from './login.ts';

/** Statements in flight get this long to finish at shutdown (the contract's 10 s). */
const DRAIN_MS = 10_000;

export interface GatewayOptions {
  log?: Logger;
  /** Overrides for tests and benchmarks. */
  store?: AuditStore;
}

/**
 * The running gateway: one listener per target, the HTTP API, the audit store, and the sessions between them.
 * `start` brings everything up (or fails with a clear message); `stop` is the graceful shutdown of the contract.
 */
export class Gateway {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics = new Metrics();
  readonly sessions = new SessionRegistry();
  readonly instanceId: string;
  store!: AuditStore;
  identity!: IdentityVerifier;
  policy!: PolicyEngine;
  approvals!: ApprovalService;
  api!: ApiServer;
  private readonly listeners = new Map<string, Server>();
  private readonly serverInfos = new Map<string, ServerInfo>();
  private readonly probes = new Map<string, Promise<ServerInfo>>();
  private rsa: Promise<RsaKey> | null = null;
  private tls: SecureContext | null = null;
  private stopping = false;
  private readonly classifier = new ClassifierCache();

  private constructor(config: Config, opts: GatewayOptions) {
    this.config = config;
    this.log = opts.log ?? createLogger(config.log.level);
    this.instanceId = loadInstanceId(config);
  }

  static async start(config: Config, opts: GatewayOptions = {}): Promise<Gateway> {
    const g = new Gateway(config, opts);
    try {
      await g.init(opts);
    } catch (e) {
      await g.stop().catch(() => {});
      throw e;
    }
    return g;
  }

  private async init(opts: GatewayOptions): Promise<void> {
    const { config } = this;
    // The RSA key is made in the background on first start; logins that need it wait for it.
    this.rsa = loadRsaKey(config);
    this.rsa.catch((e) => this.log.error('cannot load or create the RSA key', { error: (e as Error).message }));
    this.store = opts.store ?? openAuditStore(config.audit.store, {
      instanceId: this.instanceId,
      signingKeyPem: loadSigningKey(config),
      fsync: config.audit.fsync,
      checkpointEvery: config.audit.checkpointEvery,
      checkpointInterval: config.audit.checkpointInterval,
    });
    await this.store.init();
    this.identity = createIdentityVerifier(config.identity);
    this.policy = createPolicyEngine({
      policies: config.policies,
      hashKey: loadHashKey(config),
      defaultMinApprovals: config.approvals.minApprovals,
    });
    this.approvals = new ApprovalService(config, this.store, this.instanceId, this.log);
    await this.approvals.start();
    if (config.tls) this.tls = createSecureContext({ cert: config.tls.certPem, key: config.tls.keyPem });
    const ctx = this.context();
    for (const target of config.targets) {
      void this.serverInfo(target).catch((e) =>
        this.log.warn('upstream not reachable yet', { target: target.name, error: (e as Error).message }));
      const server = createServer({ noDelay: true }, (socket) => {
        if (this.stopping) {
          socket.destroy();
          return;
        }
        void new Session(ctx, target, socket).run();
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(new Error(`target "${target.name}": cannot listen on ${target.listen.host}:${target.listen.port}: ${e.message}`)));
        server.listen(target.listen.port, target.listen.host, () => resolve());
      });
      server.on('error', (e) => this.log.error('listener error', { target: target.name, error: e.message }));
      this.listeners.set(target.name, server);
      this.log.info('listening', { target: target.name, address: `${target.listen.host}:${target.listen.port}` });
    }
    this.api = await buildApi({
      config,
      store: this.store,
      identity: this.identity,
      policy: this.policy,
      approvals: this.approvals,
      metrics: this.metrics,
      log: this.log,
      health: () => ({ ok: !this.stopping && this.store.healthy, stopping: this.stopping, auditHealthy: this.store.healthy }),
    });
    await this.api.listen(config.api.listen);
    this.log.info('API listening', { address: `${config.api.listen.host}:${config.api.listen.port}` });
  }

  private context(): GatewayContext {
    return {
      config: this.config,
      instanceId: this.instanceId,
      policy: this.policy,
      store: this.store,
      auth: this.identity,
      rsa: () => this.rsa!,
      tls: this.tls,
      classify: (sql, flavor) => this.classifier.classify(sql, flavor),
      approvals: this.approvals,
      metrics: this.metrics,
      log: this.log,
      sessions: this.sessions,
      serverInfo: (t) => this.serverInfo(t),
      rememberServerInfo: (t, info) => this.serverInfos.set(t.name, info),
      shuttingDown: () => this.stopping,
    };
  }

  /** The target server's greeting facts: cached; learned by logging in once (which also checks the credential). */
  serverInfo(target: TargetConfig): Promise<ServerInfo> {
    const known = this.serverInfos.get(target.name);
    if (known) return Promise.resolve(known);
    let p = this.probes.get(target.name);
    if (!p) {
      p = probeUpstream(target).then(
        (info) => {
          this.serverInfos.set(target.name, info);
          this.probes.delete(target.name);
          return info;
        },
        (e: unknown) => {
          this.probes.delete(target.name);
          throw e;
        },
      );
      this.probes.set(target.name, p);
    }
    return p;
  }

  /** Address a target listens on (with the real port when configured as 0). */
  address(target: string): { host: string; port: number } {
    const a = this.listeners.get(target)?.address();
    if (!a || typeof a === 'string') throw new Error(`target "${target}" is not listening`);
    return { host: a.address, port: a.port };
  }

  /**
   * Graceful shutdown: stop accepting, let statements in flight finish (at most 10 s), close the sessions,
   * flush the audit store.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('shutting down');
    for (const s of this.listeners.values()) s.close();
    const deadline = Date.now() + DRAIN_MS;
    this.approvals?.shutdown();
    while (Date.now() < deadline && [...this.sessions.live.values()].some((s) => s.busy)) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const closing = [...this.sessions.live.values()];
    for (const s of closing) s.terminate('shutdown');
    // Each session records its disconnect as it closes.
    const until = Date.now() + 2_000;
    while (this.sessions.live.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await this.api?.close().catch(() => {});
    await this.approvals?.stop().catch(() => {});
    await this.store?.close().catch((e) => this.log.error('audit store did not close cleanly', { error: (e as Error).message }));
    this.log.info('stopped');
  }
}
