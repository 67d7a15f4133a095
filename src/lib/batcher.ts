/**
 * Gathers calls that arrive together into one run: the first call waits for the next macrotask, so
 * calls delivered meanwhile join it; then `run` gets them all, in order, and answers each (an
 * `Error` answer rejects that call alone). A Durable Object uses it to write many small requests in
 * one transaction and one commit.
 */
export class Batcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];

  constructor(private readonly run: (items: I[]) => Promise<(O | Error)[]>) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length === 1) setTimeout(() => void this.flush(), 0);
    });
  }

  private async flush() {
    const batch = this.queue;
    this.queue = [];
    try {
      const answers = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => {
        const answer = answers[i]!;
        if (answer instanceof Error) b.reject(answer);
        else b.resolve(answer);
      });
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}
