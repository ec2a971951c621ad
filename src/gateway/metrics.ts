import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one gateway process, served at GET /metrics. */
export class Metrics {
  readonly registry = new Registry();
  private readonly connections: Counter<'target'>;
  private readonly active: Gauge<'target'>;
  private readonly statements: Counter<'target' | 'action'>;
  private readonly bytesIn: Counter<'target'>;
  private readonly bytesOut: Counter<'target'>;
  private readonly loginFailures: Counter<'target'>;
  private readonly upstreamErrors: Counter<'target'>;
  private readonly auditFailures: Counter;
  readonly auditAppend: Histogram;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'agentgate_process_' });
    this.connections = new Counter({ name: 'agentgate_connections_total', help: 'Client connections accepted', labelNames: ['target'], registers });
    this.active = new Gauge({ name: 'agentgate_connections_active', help: 'Client connections open now', labelNames: ['target'], registers });
    this.statements = new Counter({
      name: 'agentgate_statements_total',
      help: 'Statements by outcome (allow, approved, deny, refused)',
      labelNames: ['target', 'action'],
      registers,
    });
    this.bytesIn = new Counter({ name: 'agentgate_client_bytes_received_total', help: 'Bytes received from clients', labelNames: ['target'], registers });
    this.bytesOut = new Counter({ name: 'agentgate_client_bytes_sent_total', help: 'Bytes sent to clients', labelNames: ['target'], registers });
    this.loginFailures = new Counter({ name: 'agentgate_login_failures_total', help: 'Client logins refused or aborted', labelNames: ['target'], registers });
    this.upstreamErrors = new Counter({ name: 'agentgate_upstream_errors_total', help: 'Upstream connections that could not be made', labelNames: ['target'], registers });
    this.auditFailures = new Counter({ name: 'agentgate_audit_failures_total', help: 'Records the audit store could not write', registers });
    this.auditAppend = new Histogram({
      name: 'agentgate_audit_append_seconds',
      help: 'Time from handing a record to the store to its being durable',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1],
      registers,
    });
  }

  connectionOpened(target: string): void {
    this.connections.inc({ target });
    this.active.inc({ target });
  }

  connectionClosed(target: string): void {
    this.active.dec({ target });
  }

  // Per-statement counts are summed in plain maps and handed to prom-client when metrics are read.
  private readonly pendingStatements = new Map<string, Map<string, number>>();
  private readonly pendingBytes = new Map<string, [number, number]>();

  statement(target: string, action: string): void {
    let m = this.pendingStatements.get(target);
    if (!m) this.pendingStatements.set(target, (m = new Map()));
    m.set(action, (m.get(action) ?? 0) + 1);
  }

  bytes(target: string, received: number, sent: number): void {
    let b = this.pendingBytes.get(target);
    if (!b) this.pendingBytes.set(target, (b = [0, 0]));
    b[0] += received;
    b[1] += sent;
  }

  private flushPending(): void {
    for (const [target, m] of this.pendingStatements) {
      for (const [action, n] of m) if (n > 0) this.statements.inc({ target, action }, n);
      m.clear();
    }
    for (const [target, b] of this.pendingBytes) {
      if (b[0] > 0) this.bytesIn.inc({ target }, b[0]);
      if (b[1] > 0) this.bytesOut.inc({ target }, b[1]);
      b[0] = 0;
      b[1] = 0;
    }
  }

  loginFailed(target: string): void {
    this.loginFailures.inc({ target });
  }

  upstreamError(target: string): void {
    this.upstreamErrors.inc({ target });
  }

  auditFailure(): void {
    this.auditFailures.inc();
  }

  text(): Promise<string> {
    this.flushPending();
    return this.registry.metrics();
  }
}
