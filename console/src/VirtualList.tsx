// A list that renders only the rows in view (plus a few), so a session of tens of thousands of events scrolls as
// smoothly as one of ten. Rows have one fixed height.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  renderRow(index: number): ReactNode;
  /** Scrolled into view whenever it changes. */
  activeIndex?: number;
  overscan?: number;
  className?: string;
  /** ARIA for the scrolling container (e.g. a listbox with aria-activedescendant). */
  role?: string;
  ariaLabel?: string;
  activeDescendant?: string;
  onKeyDown?(e: KeyboardEvent<HTMLDivElement>): void;
}

export function VirtualList(p: VirtualListProps) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const frame = useRef(0);
  const overscan = p.overscan ?? 8;

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setHeight(el.clientHeight || 400);
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 400));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const onScroll = useCallback(() => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      if (ref.current) setScrollTop(ref.current.scrollTop);
    });
  }, []);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  useEffect(() => {
    const el = ref.current;
    if (!el || p.activeIndex === undefined || p.activeIndex < 0) return;
    const top = p.activeIndex * p.rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + p.rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + p.rowHeight - el.clientHeight;
    setScrollTop(el.scrollTop);
  }, [p.activeIndex, p.rowHeight]);

  const first = Math.max(0, Math.floor(scrollTop / p.rowHeight) - overscan);
  const last = Math.min(p.count, Math.ceil((scrollTop + height) / p.rowHeight) + overscan);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div key={i} className="vrow" style={{ transform: `translateY(${i * p.rowHeight}px)`, height: p.rowHeight }}>
        {p.renderRow(i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      className={`vlist ${p.className ?? ''}`}
      onScroll={onScroll}
      role={p.role}
      aria-label={p.ariaLabel}
      aria-activedescendant={p.activeDescendant}
      tabIndex={0}
      onKeyDown={p.onKeyDown}
    >
      <div className="vlist-inner" style={{ height: p.count * p.rowHeight }}>{rows}</div>
    </div>
  );
}
