/**
 * Callers of wait(2) holding for a process to exit, in memory: an exit wakes them, a deadline lets
 * them go. Nothing here is durable; a waiter whose object is evicted simply asks again.
 */
export class ExitWaiters {
  private readonly waiting = new Map<number, Set<() => void>>();

  /** Resolves when `pid` exits (`wake`) or after `timeoutMs`, whichever comes first. */
  wait(pid: number, timeoutMs: number): Promise<void> {
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

  /** `pid` exited: everyone waiting for it may look. */
  wake(pid: number) {
    const set = this.waiting.get(pid);
    if (set) for (const done of set) done();
  }

  /** How many callers wait for `pid`. */
  count(pid: number): number {
    return this.waiting.get(pid)?.size ?? 0;
  }
}
