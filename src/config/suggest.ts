/** "Did you mean" for keys and enum values: the closest candidate, or undefined when nothing is close enough. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  // Same word but for case or separators (`jwks_uri` for `jwksUri`, `Listen` for `listen`) is the likeliest typo.
  const norm = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');
  const w = norm(word);
  const same = candidates.find((c) => norm(c) === w);
  if (same !== undefined) return same;
  // A cut-short word (`trunc` for `truncate`) is as telling as a typo.
  if (w.length >= 3) {
    const prefixed = candidates.filter((c) => norm(c).startsWith(w));
    if (prefixed.length === 1) return prefixed[0];
  }
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, norm(c));
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  // Short words need a tight bound, or every two-letter typo "means" some unrelated key.
  const limit = w.length <= 3 ? 1 : w.length <= 6 ? 2 : 3;
  return bestDist <= limit ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
