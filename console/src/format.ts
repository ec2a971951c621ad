// Times are shown in UTC, as the CLI and the API show them, so what an auditor reads matches every other record.

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function fmtClock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(11, 23);
}

export function fmtDuration(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** "+1.234 s" from the session's start. */
export function fmtOffset(fromIso: string, iso: string): string {
  const ms = Date.parse(iso) - Date.parse(fromIso);
  if (!Number.isFinite(ms)) return '';
  return ms < 60_000 ? `+${(ms / 1000).toFixed(3)} s` : `+${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}`;
}

export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

/** "2026-01-31T12:00" (a datetime-local value, read as UTC) to ISO 8601. */
export function localInputToIso(v: string): string | undefined {
  if (!v) return undefined;
  const t = Date.parse(`${v}Z`);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

export function isoToLocalInput(iso: string | null): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 16) : '';
}
