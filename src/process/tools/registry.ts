import type { ToolCall } from "../../contracts";
import { fileTools } from "./files";
import { peopleTools } from "./people";
import { taskTools } from "./tasks";
import type { ToolFailure } from "./result";
import type { Tool } from "./types";

/** Tools by name: the built-in ones now; MCP tools register the same way. */
export class ToolRegistry {
  private readonly tools = new Map<string, Tool>();

  constructor(tools: readonly Tool[] = []) {
    for (const tool of tools) this.register(tool);
  }

  register(tool: Tool): this {
    if (this.tools.has(tool.name)) throw new Error(`a tool named ${tool.name} is already registered`);
    this.tools.set(tool.name, tool);
    return this;
  }

  get(name: string): Tool | undefined {
    return this.tools.get(name);
  }
}

export const builtinTools = new ToolRegistry([...fileTools, ...taskTools, ...peopleTools]);

/** Why a call may not run at all (before any hook or workspace is asked), or null. */
export function precheck(call: Pick<ToolCall, "name">, allowed: readonly string[], registry: ToolRegistry = builtinTools): ToolFailure | null {
  if (allowed.includes(call.name) && registry.get(call.name)) return null;
  return registry.get(call.name)
    ? { code: "permission_denied", message: `the tool ${call.name} is not among this process's tools` }
    : { code: "unknown_tool", message: `unknown tool ${call.name}` };
}
