import type { FileMeta, FileStore } from "../../src/workspace/fs-tools";

/** An in-memory FileStore, so the file tools can be tested without a Durable Object. */
export class MemoryStore implements FileStore {
  readonly files = new Map<string, string>();
  writes = 0;

  constructor(initial: Record<string, string> = {}) {
    for (const [path, content] of Object.entries(initial)) this.files.set(path, content);
  }

  get(path: string): string | null {
    return this.files.get(path) ?? null;
  }

  stat(path: string): FileMeta | null {
    const content = this.files.get(path);
    return content === undefined ? null : { path, bytes: new TextEncoder().encode(content).length };
  }

  put(path: string, content: string): void {
    this.writes++;
    this.files.set(path, content);
  }

  delete(path: string): boolean {
    if (this.files.has(path)) this.writes++;
    return this.files.delete(path);
  }

  *list(prefix: string, limit = Infinity): Iterable<FileMeta> {
    const paths = [...this.files.keys()].filter((p) => p.startsWith(prefix)).sort();
    for (const path of paths.slice(0, limit)) yield this.stat(path)!;
  }
}
