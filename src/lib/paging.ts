/**
 * Lists are answered a page at a time, bounded by a count and by size, so no answer outgrows an RPC
 * return (32 MiB) or a response a client can hold, however many rows there are or however large
 * each one is. The cursor is the sort key of the last item returned; the next page starts after it.
 */
export const MAX_PAGE_CHARS = 4 * 1024 * 1024;

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

/**
 * Takes items from `rows` (already ordered and starting after the cursor) until `limit` items or
 * `maxChars` of JSON are reached. A page always holds at least one item, so a single large row
 * cannot stall a client; `rows` should yield at most `limit + 1` rows.
 */
export function takePage<T>(rows: Iterable<T>, limit: number, cursorOf: (item: T) => string | number, maxChars = MAX_PAGE_CHARS): Page<T> {
  const items: T[] = [];
  let chars = 0;
  for (const item of rows) {
    if (items.length === limit) return { items, nextCursor: String(cursorOf(items.at(-1)!)) };
    const size = JSON.stringify(item).length;
    if (items.length > 0 && chars + size > maxChars) return { items, nextCursor: String(cursorOf(items.at(-1)!)) };
    items.push(item);
    chars += size;
  }
  return { items, nextCursor: null };
}
