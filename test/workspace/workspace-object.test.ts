import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { FsScope } from "../../src/contracts";
import { MAX_FILE_BYTES } from "../../src/contracts/tools";
import type { Env } from "../../src/env";
import type { WorkspaceObject } from "../../src/objects/workspace";
import type { Stub } from "../../src/rpc/stubs";
import { freshTenant } from "../support/http";

const ALL: FsScope[] = [{ path: "/**", mode: "rw" }];
// test/env.d.ts does not currently type `env` (Cloudflare.Env stays empty), hence the cast.
// The tenant's workspace object, typed with the object's declared signatures (both the routes' and a process's methods).
const workspace = () => (env as unknown as Env).WORKSPACE.getByName(freshTenant("ws")) as unknown as Stub<WorkspaceObject>;

describe("WorkspaceObject RPC", () => {
  it("runs the file tools over SQLite storage", async () => {
    const ws = workspace();
    expect(await ws.runTool("write_file", { path: "/src/a.ts", content: "let a = 1;\nlet b = 2;\n" }, ALL)).toEqual({ ok: true, output: "wrote 22 bytes to /src/a.ts" });
    expect(await ws.runTool("edit_file", { path: "/src/a.ts", oldText: "b = 2", newText: "b = 3" }, ALL)).toMatchObject({ ok: true });
    expect(await ws.runTool("read_file", { path: "/src/a.ts", offset: 1 }, ALL)).toEqual({ ok: true, output: "let b = 3;\n" });
    expect(await ws.runTool("write_file", { path: "/src/lib/x.ts", content: "" }, ALL)).toMatchObject({ ok: true });
    expect(await ws.runTool("write_file", { path: "/srcfile", content: "" }, ALL)).toMatchObject({ ok: true });
    expect(await ws.runTool("list_dir", { path: "/src" }, ALL)).toEqual({ ok: true, output: "a.ts\nlib/" });
    expect(await ws.runTool("list_dir", { path: "/" }, ALL)).toEqual({ ok: true, output: "src/\nsrcfile" });
    expect(await ws.runTool("glob", { pattern: "**/*.ts" }, ALL)).toEqual({ ok: true, output: "/src/a.ts\n/src/lib/x.ts" });
    expect(await ws.runTool("grep", { pattern: "b = \\d" }, ALL)).toEqual({ ok: true, output: "/src/a.ts:2: let b = 3;" });
    expect(await ws.runTool("delete_file", { path: "/src/a.ts" }, ALL)).toEqual({ ok: true, output: "deleted /src/a.ts" });
    expect(await ws.runTool("read_file", { path: "/src/a.ts" }, ALL)).toMatchObject({ ok: false, code: "file_not_found" });
  });

  it("answers bad input with error results, not throws", async () => {
    const ws = workspace();
    expect(await ws.runTool("nope", {}, ALL)).toMatchObject({ ok: false, code: "invalid_arguments" });
    expect(await ws.runTool("grep", { pattern: "[" }, ALL)).toMatchObject({ ok: false, code: "tool_error" });
    expect(await ws.runTool("write_file", { path: "x", content: "" }, ALL)).toMatchObject({ ok: false, code: "invalid_arguments" });
  });

  it("denies out-of-scope writes and writes nothing", async () => {
    const ws = workspace();
    const readOnly: FsScope[] = [{ path: "/**", mode: "r" }];
    const narrow: FsScope[] = [{ path: "/work/**", mode: "rw" }];
    expect(await ws.runTool("write_file", { path: "/a.txt", content: "x" }, readOnly)).toMatchObject({ ok: false, code: "permission_denied", path: "/a.txt" });
    expect(await ws.runTool("write_file", { path: "/work/../a.txt", content: "x" }, narrow)).toMatchObject({ ok: false, code: "permission_denied", path: "/a.txt" });
    expect(await ws.globFiles("/**")).toEqual({ ok: true, value: [] });

    await ws.writeFile("/keep.txt", "original");
    expect(await ws.runTool("edit_file", { path: "/keep.txt", oldText: "original", newText: "changed" }, narrow)).toMatchObject({ code: "permission_denied" });
    expect(await ws.runTool("delete_file", { path: "/keep.txt" }, readOnly)).toMatchObject({ code: "permission_denied" });
    expect(await ws.runTool("read_file", { path: "/keep.txt" }, narrow)).toMatchObject({ code: "permission_denied" });
    expect(await ws.readFile("/keep.txt")).toEqual({ ok: true, value: { path: "/keep.txt", content: "original" } });
  });

  it("exposes the whole-workspace operations", async () => {
    const ws = workspace();
    expect(await ws.writeFile("/a/../b.txt", "héllo")).toEqual({ ok: true, value: { path: "/b.txt", bytes: 6 } });
    expect(await ws.readFile("/b.txt")).toEqual({ ok: true, value: { path: "/b.txt", content: "héllo" } });
    expect(await ws.readFile("/missing")).toMatchObject({ ok: false, error: { status: 404, code: "file_not_found" } });
    expect(await ws.readFile("relative")).toMatchObject({ ok: false, error: { status: 400, code: "invalid_request" } });
    expect(await ws.writeFile("/big", "a".repeat(MAX_FILE_BYTES + 1))).toMatchObject({ ok: false, error: { status: 413, code: "payload_too_large" } });
    expect(await ws.writeFile("/max", "a".repeat(MAX_FILE_BYTES))).toEqual({ ok: true, value: { path: "/max", bytes: MAX_FILE_BYTES } });
    expect(await ws.globFiles("/*")).toEqual({ ok: true, value: ["/b.txt", "/max"] });
    expect(await ws.deleteFile("/b.txt")).toEqual({ ok: true, value: { path: "/b.txt" } });
    expect(await ws.deleteFile("/b.txt")).toMatchObject({ ok: false, error: { status: 404 } });
  });

  it("stores text with unusual characters faithfully", async () => {
    const ws = workspace();
    const text = "nul:\u0000 tab:\t emoji:😀 cr:\r\n end";
    await ws.writeFile("/odd.txt", text);
    expect(await ws.readFile("/odd.txt")).toEqual({ ok: true, value: { path: "/odd.txt", content: text } });
  });

  it("lists by prefix without confusing siblings or LIKE wildcards", async () => {
    const ws = workspace();
    for (const path of ["/a/x", "/a0", "/a.b", "/a_/y", "/a%/z", "/ab/w"]) await ws.writeFile(path, path);
    expect(await ws.runTool("list_dir", { path: "/a", recursive: true }, ALL)).toEqual({ ok: true, output: "x" });
    expect(await ws.runTool("list_dir", { path: "/a_" }, ALL)).toEqual({ ok: true, output: "y" });
    expect(await ws.runTool("grep", { pattern: ".", path: "/a" }, ALL)).toEqual({ ok: true, output: "/a/x:1: /a/x" });
  });

  it("keeps tenants apart", async () => {
    const a = workspace();
    const b = workspace();
    await a.writeFile("/shared.txt", "A's");
    expect(await b.readFile("/shared.txt")).toMatchObject({ ok: false, error: { code: "file_not_found" } });
    expect(await b.runTool("glob", { pattern: "/**" }, ALL)).toEqual({ ok: true, output: "(no matches)" });
  });
});
