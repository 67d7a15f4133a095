import { describe, expect, it } from "vitest";
import { McpError, ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { base64Bytes, classify, MCP_OUTPUT_MAX_CHARS, renderCallResult } from "../../../src/mcp/client";

const b64 = (n: number) => Buffer.from(new Uint8Array(n).fill(7)).toString("base64");

describe("renderCallResult (SPEC §10)", () => {
  it("makes the text content the output, joined by newlines", () => {
    expect(renderCallResult({ content: [{ type: "text", text: "one" }, { type: "text", text: "two" }] })).toEqual({ ok: true, output: "one\ntwo" });
  });

  it("describes other kinds in one line each, with the decoded size", () => {
    const out = renderCallResult({
      content: [
        { type: "image", data: b64(2311), mimeType: "image/png" },
        { type: "text", text: "caption" },
        { type: "audio", data: b64(10), mimeType: "audio/wav" },
        { type: "resource_link", uri: "file:///a.txt", name: "a", mimeType: "text/plain" },
        { type: "resource", resource: { uri: "mem://x", mimeType: "text/plain", text: "héllo" } },
        { type: "resource", resource: { uri: "mem://y", blob: b64(5) } },
      ],
    });
    expect(out.ok).toBe(true);
    expect(out.output.split("\n")).toEqual([
      "[image/png, 2311 bytes]",
      "caption",
      "[audio/wav, 10 bytes]",
      "[resource link file:///a.txt (a), text/plain]",
      "[resource mem://x, text/plain, 6 bytes of text]",
      "[resource mem://y, 5 bytes]",
    ]);
  });

  it("isError: true is not ok, with the server's text", () => {
    expect(renderCallResult({ content: [{ type: "text", text: "boom" }], isError: true })).toEqual({ ok: false, output: "boom" });
  });

  it("uses structuredContent when there is no content, and tolerates junk items", () => {
    expect(renderCallResult({ content: [], structuredContent: { a: 1 } })).toEqual({ ok: true, output: '{"a":1}' });
    expect(renderCallResult({ content: [null, 3, { type: "video" }] as unknown[] }).output).toBe("[unknown content]\n[unknown content]\n[video content]");
    expect(renderCallResult({})).toEqual({ ok: true, output: "" });
  });

  it("cuts a huge output with a note", () => {
    const out = renderCallResult({ content: [{ type: "text", text: "x".repeat(MCP_OUTPUT_MAX_CHARS + 5) }] });
    expect(out.output.endsWith("[output truncated: 5 more characters]")).toBe(true);
  });

  it("counts base64 bytes for every padding", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 2311]) expect(base64Bytes(b64(n))).toBe(n);
    expect(base64Bytes(b64(2311).replace(/=+$/, ""))).toBe(2311);
  });
});

describe("classify", () => {
  it("names the failure kind with a readable cause", () => {
    expect(classify(new StreamableHTTPError(401, "Error POSTing to endpoint: {\"error\":\"unauthorized\"}"), "connecting", 1000)).toMatchObject({ kind: "unauthorized", code: 401 });
    expect(classify(new StreamableHTTPError(404, "Error POSTing to endpoint: <html>"), "connecting", 1000)).toMatchObject({ kind: "not_mcp", code: 404 });
    expect(classify(new StreamableHTTPError(-1, "Unexpected content type: text/html"), "connecting", 1000).kind).toBe("not_mcp");
    expect(classify(new McpError(ErrorCode.RequestTimeout, "Request timed out"), "calling x", 1234)).toMatchObject({ kind: "timeout", message: "No answer within 1234 ms when calling x." });
    expect(classify(new McpError(ErrorCode.MethodNotFound, "no such method"), "calling x", 1)).toMatchObject({ kind: "protocol", code: -32601 });
    expect(classify(new TypeError("fetch failed"), "connecting", 1).kind).toBe("unreachable");
    const long = classify(new StreamableHTTPError(500, "x".repeat(1000)), "connecting", 1);
    expect(long.message.length).toBeLessThan(400);
  });
});
