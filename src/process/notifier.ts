/** Wakes whoever holds for the next delivered result (HTTP collects holding their request). */
export class Notifier {
  private readonly waiters = new Set<() => void>();

  notify() {
    for (const wake of this.waiters) wake();
  }

  /** Resolves at the next `notify`, or after `ms`. */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
}
