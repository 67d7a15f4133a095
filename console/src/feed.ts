/**
 * Follows the tenant's feed (`GET /v1/events`) for as long as `signal` allows: fetch with the bearer
 * token (EventSource cannot send one), the client's streaming SSE parser, and a FeedCursor for the
 * reconnect bookkeeping: a dropped or refused connection is retried after a growing delay, resuming
 * with `Last-Event-ID`, and events already applied are not applied again. No DOM: unit-tested in Node.
 */
import { parseEventStream } from "../../src/client/index";
import type { FeedCursor, FeedEvent } from "./model";

export interface FollowOptions {
  baseUrl: string;
  token: string;
  cursor: FeedCursor;
  signal: AbortSignal;
  onEvent: (e: FeedEvent) => void;
  /** The connection's state changed (opened, dropped): for a status indicator. */
  onStatus?: () => void;
  /** 401: the token is no longer good; the loop ends. */
  onUnauthorized?: () => void;
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });

export async function followFeed(o: FollowOptions): Promise<void> {
  const doFetch = o.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
  const sleep = o.sleep ?? defaultSleep;
  while (!o.signal.aborted) {
    try {
      const res = await doFetch(`${o.baseUrl}/v1/events`, { headers: { authorization: `Bearer ${o.token}`, accept: "text/event-stream", ...o.cursor.headers() }, signal: o.signal });
      if (res.status === 401) {
        await res.body?.cancel();
        o.cursor.status = "stopped";
        o.onStatus?.();
        o.onUnauthorized?.();
        return;
      }
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw new Error(`the feed answered ${res.status}`);
      }
      o.cursor.opened();
      o.onStatus?.();
      for await (const raw of parseEventStream(res.body)) {
        if (!o.cursor.accept(raw.id)) continue;
        let data: Record<string, unknown>;
        try {
          data = JSON.parse(raw.data) as Record<string, unknown>;
        } catch {
          continue; // not one of the kernel's events
        }
        o.onEvent({ id: raw.id, event: raw.event, data });
      }
    } catch {
      // dropped or unreachable: retried below
    }
    if (o.signal.aborted) break;
    const delay = o.cursor.dropped();
    o.onStatus?.();
    await sleep(delay, o.signal);
  }
  o.cursor.status = "stopped";
}
