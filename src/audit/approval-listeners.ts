import type { Approval } from './types.ts';

/**
 * Listeners of approval changes. Each change carries a version (1 when created, +1 per update), and a listener
 * hears each version of an approval once, however it arrives (from this process directly, or again through
 * PostgreSQL NOTIFY, or from a catch-up read after the notification connection came back).
 */
export class ApprovalListeners {
  readonly #listeners = new Set<(a: Approval) => void>();
  /** Last version delivered per approval id (bounded: old entries are forgotten first). */
  readonly #seen = new Map<string, number>();

  add(listener: (a: Approval) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Delivers `a` at `version` unless that version (or a later one) was delivered already. */
  emit(a: Approval, version: number): void {
    const seen = this.#seen.get(a.id);
    if (seen !== undefined && seen >= version) return;
    this.#seen.delete(a.id);
    this.#seen.set(a.id, version);
    if (this.#seen.size > 50_000) this.#seen.delete(this.#seen.keys().next().value!);
    for (const l of this.#listeners) {
      try {
        l(a);
      } catch {
        // A failing listener must not stop the others, nor the store.
      }
    }
  }

  seenVersion(id: string): number {
    return this.#seen.get(id) ?? 0;
  }
}
