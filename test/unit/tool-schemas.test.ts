import { describe, expect, it } from "vitest";
import { toolSchemas } from "../../src/agent/tool-schemas";
import { ALL_TOOL_NAMES, TOOL_DESCRIPTIONS } from "../../src/contracts/tools";

type JsonSchema = { type?: string; properties?: Record<string, { type?: string }>; required?: string[]; additionalProperties?: unknown };

describe("toolSchemas", () => {
  // SPEC §6: the arguments each built-in tool needs, and the optional ones it accepts.
  it.each([
    ["read_file", ["path"], ["offset", "limit"]],
    ["write_file", ["path", "content"], []],
    ["edit_file", ["path", "oldText", "newText"], []],
    ["list_dir", [], ["path", "recursive"]], // path defaults to "/"
    ["glob", ["pattern"], ["path"]],
    ["grep", ["pattern"], ["path", "glob", "ignoreCase", "maxResults"]],
    ["delete_file", ["path"], []],
    ["delegate", ["agent", "message"], ["tools", "fs", "budget", "deliveryPolicy", "metadata"]],
    ["collect", [], ["taskIds", "mode", "n", "timeoutMs"]],
    ["cancel_task", ["taskId"], []],
    ["list_tasks", [], []],
  ])("%s requires %j and accepts %j", (name, required, optional) => {
    const [schema] = toolSchemas([name]);
    expect(schema).toBeDefined();
    expect(schema!.name).toBe(name);
    expect(schema!.description).toBe(TOOL_DESCRIPTIONS[name]);
    const params = schema!.parameters as JsonSchema;
    expect(params.type).toBe("object");
    expect([...(params.required ?? [])].sort()).toEqual([...required].sort());
    expect(Object.keys(params.properties ?? {}).sort()).toEqual([...required, ...optional].sort());
    expect(params.additionalProperties).toBe(false);
    expect(params).not.toHaveProperty("$schema");
  });

  it("describes argument types", () => {
    const [grep] = toolSchemas(["grep"]);
    const props = (grep!.parameters as JsonSchema).properties!;
    expect(props.pattern!.type).toBe("string");
    expect(props.ignoreCase!.type).toBe("boolean");
    expect(props.maxResults!.type).toBe("integer");
  });

  it("skips unknown names and keeps the order asked for", () => {
    expect(toolSchemas(["shell", "grep", "nope", "read_file"]).map((s) => s.name)).toEqual(["grep", "read_file"]);
    expect(toolSchemas([])).toEqual([]);
  });

  it("covers every built-in tool", () => {
    expect(toolSchemas(ALL_TOOL_NAMES).map((s) => s.name)).toEqual(ALL_TOOL_NAMES);
  });
});
