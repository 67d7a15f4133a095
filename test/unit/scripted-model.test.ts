import { describe, expect, it } from "vitest";
import type { Message, ScriptStep } from "../../src/contracts";
import { ModelError, type ModelRequest } from "../../src/models/model";
import { ScriptedModel, scriptVariables } from "../../src/models/scripted";
import { rejection } from "../support/promises";

const request = (messages: Message[], over: Partial<ModelRequest> = {}): ModelRequest => ({
  system: "sys",
  messages,
  tools: [],
  signal: new AbortController().signal,
  ...over,
});
const user = (content: string): Message => ({ role: "user", content });
const toolMsg = (id: string, content: string): Message => ({ role: "tool", toolCallId: id, name: "read_file", content, isError: false });
const asst = (...ids: string[]): Message => ({ role: "assistant", content: "", toolCalls: ids.map((id) => ({ id, name: "read_file", arguments: {} })) });


describe("ScriptedModel", () => {
  it("consumes steps by callIndex", async () => {
    const model = new ScriptedModel([{ text: "zero" }, { toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] }, { text: "two" }]);
    const conv = [user("go")];
    expect((await model.generate(request(conv), 0)).text).toBe("zero");
    const second = await model.generate(request(conv), 1);
    expect(second.text).toBe("");
    expect(second.toolCalls).toEqual([{ id: "call_1_0", name: "list_dir", arguments: { path: "/" } }]);
    expect((await model.generate(request(conv), 2)).text).toBe("two");
    // the cursor is the caller's: asking again for an index replays that step
    expect((await model.generate(request(conv), 0)).text).toBe("zero");
  });

  it("gives tool calls ids unique across calls and within one call", async () => {
    const step: ScriptStep = { toolCalls: [{ name: "read_file", arguments: {} }, { name: "grep", arguments: { pattern: "x" } }] };
    const model = new ScriptedModel([step, step]);
    const a = await model.generate(request([user("go")]), 0);
    const b = await model.generate(request([user("go")]), 1);
    const ids = [...a.toolCalls, ...b.toolCalls].map((c) => c.id);
    expect(new Set(ids).size).toBe(4);
  });

  it("fails with `script exhausted` past the end, as a non-retryable ModelError", async () => {
    const model = new ScriptedModel([{ text: "only" }]);
    const err = await rejection(model.generate(request([user("go")]), 1));
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).message).toBe("script exhausted");
    expect((err as ModelError).retryable).toBe(false);
    expect(await rejection(new ScriptedModel([]).generate(request([user("go")]), 0))).toBeInstanceOf(ModelError);
  });

  it.each([
    [429, true],
    [500, true],
    [503, true],
  ] as const)("an error step %i throws a ModelError with its status (retryable %s)", async (status, retryableExpected) => {
    const model = new ScriptedModel([{ error: { status, message: `provider says ${status}` } }]);
    const err = (await rejection(model.generate(request([user("go")]), 0))) as ModelError;
    expect(err).toBeInstanceOf(ModelError);
    expect(err.status).toBe(status);
    expect(err.message).toBe(`provider says ${status}`);
    expect(err.retryable).toBe(retryableExpected);
  });

  it("substitutes {{input}} with the first user message, in text", async () => {
    const model = new ScriptedModel([{ text: "you said: {{input}} ({{input}})" }]);
    const res = await model.generate(request([user("first"), user("second")]), 0);
    expect(res.text).toBe("you said: first (first)");
  });

  it("substitutes {{input}} and {{lastToolResult}} nested in tool arguments", async () => {
    const model = new ScriptedModel([
      {
        toolCalls: [
          {
            name: "write_file",
            arguments: { path: "/out/{{input}}.txt", content: "got {{lastToolResult}}", meta: { deep: ["{{input}}", 3, true, null, { x: "{{lastToolResult}}" }] } },
          },
        ],
      },
    ]);
    const conv = [user("report"), asst("a"), toolMsg("a", "R1")];
    const [c] = (await model.generate(request(conv), 0)).toolCalls;
    expect(c!.arguments).toEqual({ path: "/out/report.txt", content: "got R1", meta: { deep: ["report", 3, true, null, { x: "R1" }] } });
  });

  it("reads a field of the latest turn's JSON results with {{lastToolResult.a.0.b}}", async () => {
    const model = new ScriptedModel([
      { toolCalls: [{ name: "reply_task", arguments: { taskId: "{{lastToolResult.inputRequired.0.taskId}}", message: "n={{lastToolResult.n}} o={{lastToolResult.o}} none=[{{lastToolResult.nope.x}}]" } }] },
    ]);
    const collected = JSON.stringify({ inputRequired: [{ taskId: "t-42", pid: 7, question: "which?" }] });
    const conv = [user("go"), asst("a", "b", "c"), toolMsg("a", "not json"), toolMsg("b", collected), toolMsg("c", JSON.stringify({ n: 3, o: { k: [1] } }))];
    const [c] = (await model.generate(request(conv), 0)).toolCalls;
    expect(c!.arguments).toEqual({ taskId: "t-42", message: 'n=3 o={"k":[1]} none=[]' });
  });

  it("joins the results of the latest turn with newlines for {{lastToolResult}}", async () => {
    const model = new ScriptedModel([{ text: "[{{lastToolResult}}]" }]);
    const conv = [user("go"), asst("a"), toolMsg("a", "old"), asst("b", "c"), toolMsg("b", "one"), toolMsg("c", "two")];
    expect((await model.generate(request(conv), 0)).text).toBe("[one\ntwo]");
    expect(scriptVariables(conv)).toEqual({ input: "go", lastToolResult: "one\ntwo" });
  });

  it("orders the turn's results by call, whatever order they landed in", () => {
    const conv = [user("go"), asst("a", "b", "c"), toolMsg("c", "C"), toolMsg("a", "A"), toolMsg("b", "B")];
    expect(scriptVariables(conv).lastToolResult).toBe("A\nB\nC");
  });

  it("keeps all of the turn's results when a user message landed between them", () => {
    const conv = [user("go"), asst("a", "b", "c"), toolMsg("a", "A"), user("posted meanwhile"), toolMsg("b", "B"), toolMsg("c", "C")];
    expect(scriptVariables(conv).lastToolResult).toBe("A\nB\nC");
    const reordered = [user("go"), asst("a", "b", "c"), toolMsg("b", "B"), user("posted meanwhile"), toolMsg("c", "C"), toolMsg("a", "A")];
    expect(scriptVariables(reordered).lastToolResult).toBe("A\nB\nC");
  });

  it("takes only the latest turn's results, and falls back to the run of results for an orphan", () => {
    const conv = [user("go"), asst("a"), toolMsg("a", "old"), asst("b"), toolMsg("b", "new")];
    expect(scriptVariables(conv).lastToolResult).toBe("new");
    expect(scriptVariables([user("go"), toolMsg("x", "X"), toolMsg("y", "Y")]).lastToolResult).toBe("X\nY");
  });

  it("{{lastToolResult}} is the most recent results even after a later message, and empty with none", () => {
    expect(scriptVariables([user("go"), asst("a"), toolMsg("a", "r"), user("more")]).lastToolResult).toBe("r");
    expect(scriptVariables([user("go")])).toEqual({ input: "go", lastToolResult: "" });
    expect(scriptVariables([])).toEqual({ input: "", lastToolResult: "" });
  });

  it("inserts substituted values literally, `$` patterns and placeholders included", async () => {
    const model = new ScriptedModel([{ text: "in={{input}} out={{lastToolResult}}" }]);
    const conv = [user("costs $& and $$5 {{lastToolResult}}"), asst("a"), toolMsg("a", "x=$'y $` $1")];
    expect((await model.generate(request(conv), 0)).text).toBe("in=costs $& and $$5 {{lastToolResult}} out=x=$'y $` $1");
  });

  it("reports the given usage", async () => {
    const model = new ScriptedModel([{ text: "hi", usage: { inputTokens: 1234, outputTokens: 56 } }]);
    expect((await model.generate(request([user("go")]), 0)).usage).toEqual({ inputTokens: 1234, outputTokens: 56 });
  });

  it("estimates usage at 4 characters per token otherwise", async () => {
    const model = new ScriptedModel([{ text: "x".repeat(9) }, { toolCalls: [{ name: "read_file", arguments: { path: "/a" } }] }]);
    const conv = [user("u".repeat(13))];
    const res = await model.generate(request(conv, { system: "s".repeat(3) }), 0);
    expect(res.usage).toEqual({ inputTokens: 4, outputTokens: 3 }); // ceil(16/4), ceil(9/4)
    const calls = await model.generate(request(conv, { system: "" }), 1);
    expect(calls.usage.inputTokens).toBe(4); // ceil(13/4)
    expect(calls.usage.outputTokens).toBe(Math.ceil(JSON.stringify(calls.toolCalls).length / 4));
  });

  it("streams the text of a final answer", async () => {
    const deltas: string[] = [];
    const model = new ScriptedModel([{ text: "hello {{input}}" }]);
    await model.generate(request([user("bob")], { onTextDelta: (d) => deltas.push(d) }), 0);
    expect(deltas.join("")).toBe("hello bob");
  });

  it("delayMs delays the answer", async () => {
    const model = new ScriptedModel([{ text: "late", delayMs: 60 }]);
    const started = Date.now();
    expect((await model.generate(request([user("go")]), 0)).text).toBe("late");
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it("aborting rejects a delayed call promptly", async () => {
    const model = new ScriptedModel([{ text: "never", delayMs: 60_000 }]);
    const abort = new AbortController();
    const started = Date.now();
    const pending = model.generate(request([user("go")], { signal: abort.signal }), 0);
    setTimeout(() => abort.abort(new Error("killed")), 20);
    const err = await rejection(pending);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((err as Error).message).toBe("killed");
  });

  it("an already aborted signal rejects at once", async () => {
    const model = new ScriptedModel([{ text: "never", delayMs: 60_000 }]);
    const abort = new AbortController();
    abort.abort(new Error("gone"));
    const started = Date.now();
    expect(((await rejection(model.generate(request([user("go")], { signal: abort.signal }), 0))) as Error).message).toBe("gone");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("an error step honours its delay before failing", async () => {
    const model = new ScriptedModel([{ error: { status: 503, message: "busy" }, delayMs: 40 }]);
    const started = Date.now();
    const err = (await rejection(model.generate(request([user("go")]), 0))) as ModelError;
    expect(err.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(30);
  });
});
