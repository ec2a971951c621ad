// The approval queue, kept live: the list read once the event stream is open, then every "approval" event merged
// in. The stream reconnects by itself (with a growing pause) and the list is read again after each reconnect.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, readEventStream, request } from './api.ts';
import type { Approval } from './types.ts';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

const TERMINAL = new Set(['approved', 'denied', 'timed_out', 'expired']);

/** Which of two states of one request is the later: a decision beats pending, more votes beat fewer. */
function later(a: Approval, b: Approval): Approval {
  const ta = TERMINAL.has(a.status);
  const tb = TERMINAL.has(b.status);
  if (ta !== tb) return ta ? a : b;
  if (ta && tb) return (a.decidedAt ?? '') >= (b.decidedAt ?? '') ? a : b;
  return (a.votes?.length ?? 0) >= (b.votes?.length ?? 0) ? a : b;
}

export interface Queue {
  approvals: Approval[];
  live: LiveState;
  error: string | null;
  /** New pending requests since the page was opened (announced to screen readers). */
  announcement: string;
  upsert(a: Approval): void;
}

export function useApprovalQueue(enabled: boolean): Queue {
  const [byId, setById] = useState<Map<string, Approval>>(new Map());
  const [live, setLive] = useState<LiveState>('connecting');
  const [error, setError] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const seen = useRef(new Set<string>());

  const upsert = useCallback((a: Approval) => {
    setById((m) => {
      const prev = m.get(a.id);
      const next = prev ? later(prev, a) : a;
      if (prev === next) return m;
      const copy = new Map(m);
      copy.set(a.id, next);
      return copy;
    });
  }, []);

  useEffect(() => {
    if (!enabled) {
      // Signed out: nothing of the queue stays in the page.
      setById(new Map());
      seen.current = new Set();
      setLive('connecting');
      return;
    }
    const ctl = new AbortController();
    let attempt = 0;
    let stopped = false;
    const run = async () => {
      while (!stopped) {
        try {
          await readEventStream('/api/approvals/stream', {
            onOpen: () => {
              attempt = 0;
              setLive('live');
              setError(null);
              void request<{ approvals: Approval[] }>('/api/approvals?status=all&limit=200', { signal: ctl.signal })
                .then((r) => {
                  for (const a of r.approvals) seen.current.add(a.id);
                  setById((m) => {
                    const copy = new Map(m);
                    for (const a of r.approvals) {
                      const prev = copy.get(a.id);
                      copy.set(a.id, prev ? later(prev, a) : a);
                    }
                    return copy;
                  });
                })
                .catch((e: unknown) => {
                  if ((e as Error).name !== 'AbortError') setError((e as Error).message);
                });
            },
            onEvent: (name, data) => {
              if (name !== 'approval') return;
              try {
                const a = JSON.parse(data) as Approval;
                if (a.status === 'pending' && !seen.current.has(a.id)) {
                  seen.current.add(a.id);
                  setAnnouncement(`New approval request from ${a.identity.subject} on ${a.target}: ${a.sql.slice(0, 120)}`);
                }
                upsert(a);
              } catch {
                // a malformed event is skipped; the next list read repairs the view
              }
            },
          }, ctl.signal);
        } catch (e) {
          if (stopped || (e as Error).name === 'AbortError') return;
          if (e instanceof ApiError && e.status === 401) return;
          setError(e instanceof Error ? e.message : String(e));
        }
        if (stopped) return;
        setLive('reconnecting');
        attempt++;
        await new Promise((r) => setTimeout(r, Math.min(15_000, 500 * 2 ** Math.min(attempt, 5))));
      }
    };
    void run();
    return () => {
      stopped = true;
      ctl.abort();
    };
  }, [enabled, upsert]);

  const approvals = [...byId.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  return { approvals, live, error, announcement, upsert };
}
