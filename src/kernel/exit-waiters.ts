/**
 * Callers holding for something to happen to a key, in memory: `wake` lets them look, a deadline
 * lets them go. Nothing here is durable; a waiter whose object is evicted simply asks again.
 * wait(2) holds for a process's exit (`ExitWaiters`); an A2A caller for a task's next state.
 */
export class Waiters<K> {
  private readonly waiting = new Map<K, Set<() => void>>();

  /** Resolves when `pid` is woken or after `timeoutMs`, whichever comes first. */
  wait(pid: K, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const set = this.waiting.get(pid) ?? new Set();
      this.waiting.set(pid, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiting.delete(pid);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      set.add(done);
    });
  }

  /** Something happened to `pid`: everyone waiting for it may look. */
  wake(pid: K) {
    const set = this.waiting.get(pid);
    if (set) for (const done of set) done();
  }

  /** How many callers wait for `pid`. */
  count(pid: K): number {
    return this.waiting.get(pid)?.size ?? 0;
  }
}

/** Callers of wait(2) holding for a process to exit. */
export class ExitWaiters extends Waiters<number> {}
