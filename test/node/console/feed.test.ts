import { describe, expect, it } from "vitest";
import { followFeed } from "../../../console/src/feed";
import { FeedCursor, type FeedEvent } from "../../../console/src/model";

/** An SSE body sent in the given chunks (split anywhere, even mid-line), then ended or failed. */
function body(chunks: string[], end: "close" | "error"): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(enc.encode(chunks[i++]!));
      else if (end === "close") controller.close();
      else controller.error(new Error("connection reset"));
    },
  });
}

const frame = (seq: number, type: string, data: object) => `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify({ seq, at: "t", ...data })}\n\n`;

describe("following the tenant feed", () => {
  it("resumes with Last-Event-ID after a drop, skips what it already has, retries a refused connection, and stops on abort", async () => {
    const requests: { url: string; headers: Record<string, string> }[] = [];
    const abort = new AbortController();
    const answers: (() => Response)[] = [
      // First connection: two events, the second split across chunks, then a reset mid-stream.
      () => new Response(body([frame(1, "proc", { process: { pid: 1 } }).slice(0, 10), frame(1, "proc", { process: { pid: 1 } }).slice(10) + frame(2, "task", { task: { id: "t" } }).slice(0, 25), frame(2, "task", { task: { id: "t" } }).slice(25), ": keep-alive\n\n"], "error"), { status: 200 }),
      // The server is restarting.
      () => new Response("{}", { status: 503 }),
      // Back: the server repeats event 2 (a resume may overlap), then sends 3 and ends cleanly.
      () => new Response(body([frame(2, "task", { task: { id: "t" } }), frame(3, "approval", { approval: { id: "a" } }), "event: model\ndata: not json\n\n"], "close"), { status: 200 }),
      // A token that expired meanwhile: the loop ends.
      () => new Response('{"error":{"code":"unauthorized","message":"expired"}}', { status: 401 }),
    ];
    const seen: FeedEvent[] = [];
    const delays: number[] = [];
    const statuses: string[] = [];
    const cursor = new FeedCursor();
    let unauthorized = false;
    await followFeed({
      baseUrl: "http://k",
      token: "tok",
      cursor,
      signal: abort.signal,
      onEvent: (e) => seen.push(e),
      onStatus: () => statuses.push(cursor.status),
      onUnauthorized: () => (unauthorized = true),
      fetch: async (url, init) => {
        requests.push({ url, headers: init.headers as Record<string, string> });
        return answers.shift()!();
      },
      sleep: async (ms) => void delays.push(ms),
    });
    expect(seen.map((e) => [e.id, e.event])).toEqual([["1", "proc"], ["2", "task"], ["3", "approval"]]);
    expect(requests.map((r) => r.headers["last-event-id"])).toEqual([undefined, "2", "2", "3"]);
    expect(requests.every((r) => r.url === "http://k/v1/events" && r.headers.authorization === "Bearer tok")).toBe(true);
    // Back-off grows while nothing arrives (250 after the drop, 500 after the 503), and resets once events flow.
    expect(delays).toEqual([250, 500, 250]);
    expect(statuses).toEqual(["live", "reconnecting", "reconnecting", "live", "reconnecting", "stopped"]);
    expect(unauthorized).toBe(true);
    expect(cursor.connections).toBe(2);
  });

  it("ends when aborted while waiting to reconnect", async () => {
    const abort = new AbortController();
    let calls = 0;
    await followFeed({
      baseUrl: "http://k",
      token: "tok",
      cursor: new FeedCursor("41"),
      signal: abort.signal,
      onEvent: () => {},
      fetch: async (_url, init) => {
        calls++;
        expect((init.headers as Record<string, string>)["last-event-id"]).toBe("41");
        throw new TypeError("fetch failed");
      },
      sleep: async () => abort.abort(),
    });
    expect(calls).toBe(1);
  });
});
