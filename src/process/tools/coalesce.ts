/**
 * Gathers calls made in the same moment into one batch: every `run` until the next macrotask joins
 * the batch, then `flush` answers them all at once, in order. A turn's parallel `delegate` calls reach
 * the kernel this way as one `delegateMany` (one RPC, one transaction) instead of one call each; a
 * call made alone is a batch of one, so nothing waits on another turn.
 */
export class Coalescer<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 256,
    private readonly defer: (fn: () => void) => void = (fn) => setTimeout(fn, 0),
  ) {}

  run(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      this.defer(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    const all = this.queue;
    this.queue = [];
    this.scheduled = false;
    for (let i = 0; i < all.length; i += this.maxBatch) {
      const batch = all.slice(i, i + this.maxBatch);
      try {
        const out = await this.flush(batch.map((b) => b.item));
        if (out.length !== batch.length) throw new Error(`a batch of ${batch.length} was answered with ${out.length} results`);
        batch.forEach((b, j) => b.resolve(out[j]!));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
  }
}
