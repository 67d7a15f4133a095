import { describe, expect, it } from "vitest";
import { pathsOf, ToolTimeout, withTimeout } from "../../src/agent/dispatch";
import type { ToolCall } from "../../src/contracts";
import { precheck } from "../../src/process/tools/registry";
import { describeFailure, failedResult, okResult } from "../../src/process/tools/result";

const call = (name: string, args: Record<string, unknown> = {}): ToolCall => ({ id: "c1", name, arguments: args });

describe("pathsOf", () => {
  it.each([
    [{ path: "/a/b.txt" }, ["/a/b.txt"]],
    [{ path: "/a/../secret" }, ["/secret"]],
    [{ path: "//a//b/" }, ["/a/b"]],
    [{ path: "relative" }, []],
    [{ path: 42 }, []],
    [{}, []],
  ])("%j → %j", (args, expected) => {
    expect(pathsOf(call("read_file", args))).toEqual(expected);
  });

  it("a search without a path touches the whole workspace", () => {
    for (const tool of ["list_dir", "glob", "grep"]) {
      expect(pathsOf(call(tool, { pattern: "x" }))).toEqual(["/"]);
      expect(pathsOf(call(tool, { pattern: "x", path: "/docs/" }))).toEqual(["/docs"]);
    }
    expect(pathsOf(call("read_file", {}))).toEqual([]);
  });
});

describe("precheck", () => {
  const tools = ["read_file", "delegate"];
  it("lets an effective tool through", () => {
    expect(precheck(call("read_file"), tools)).toBeNull();
    expect(precheck(call("delegate"), tools)).toBeNull();
  });
  const refusal = (name: string) => describeFailure(precheck(call(name), tools)!);
  it("denies a known tool the process lacks", () => {
    expect(refusal("write_file")).toMatch(/^permission_denied/);
    expect(refusal("collect")).toMatch(/^permission_denied/);
    expect(precheck(call("collect"), tools)?.code).toBe("permission_denied");
  });
  it("calls an unknown tool unknown", () => {
    expect(refusal("shell")).toMatch(/unknown tool shell/);
    expect(refusal("__proto__")).toMatch(/unknown tool/);
    expect(precheck(call("shell"), tools)?.code).toBe("unknown_tool");
  });
});

describe("results", () => {
  it("an error result is what the model sees as `Error: ...`", () => {
    const r = failedResult(call("grep"), { code: "tool_error", message: "boom" }, Date.now());
    expect(r).toMatchObject({ toolCallId: "c1", name: "grep", output: "Error: boom", error: "boom", success: false });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });
  it("an ok result carries the output", () => {
    expect(okResult(call("grep"), "a:1: x", Date.now())).toMatchObject({ output: "a:1: x", error: null, success: true });
  });
});

describe("withTimeout", () => {
  it("passes a fast result through", async () => {
    await expect(withTimeout(Promise.resolve(5), 1_000, "tool")).resolves.toBe(5);
  });
  it("passes a fast failure through", async () => {
    await expect(withTimeout(Promise.reject(new Error("bad")), 1_000, "tool")).rejects.toThrow("bad");
  });
  it("rejects a hung call after the timeout", async () => {
    await expect(withTimeout(new Promise(() => {}), 30, "read_file")).rejects.toThrow("read_file timed out after 30 ms");
    await expect(withTimeout(new Promise(() => {}), 30, "read_file")).rejects.toBeInstanceOf(ToolTimeout);
  });
});
