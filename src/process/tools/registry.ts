import type { ToolCall } from "../../contracts";
import { MCP_PREFIX } from "../../contracts/mcp";
import { fileTools } from "./files";
import { peopleTools } from "./people";
import { taskTools } from "./tasks";
import type { ToolFailure } from "./result";
import type { Tool } from "./types";

/** Tools by name: the built-in ones, and a process's MCP tools on top of them (`with`). */
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

  /** A new registry: these tools and `more`. */
  with(more: readonly Tool[]): ToolRegistry {
    return new ToolRegistry([...this.tools.values(), ...more]);
  }
}

/** A tool from an MCP server, by its name (SPEC §10): `mcp__<server>__<tool>`. */
export const isMcpToolName = (name: string) => name.startsWith(MCP_PREFIX);

export const builtinTools = new ToolRegistry([...fileTools, ...taskTools, ...peopleTools]);

/**
 * Why a call may not run at all (before any hook or workspace is asked), or null. A process's
 * registry holds only the MCP tools it was granted, so an MCP name outside its grant is refused as
 * not its own, and a granted one the registry lacks is a tool its server no longer offers.
 */
export function precheck(call: Pick<ToolCall, "name">, allowed: readonly string[], registry: ToolRegistry = builtinTools): ToolFailure | null {
  const granted = allowed.includes(call.name);
  if (granted && registry.get(call.name)) return null;
  if (registry.get(call.name) || (isMcpToolName(call.name) && !granted)) {
    return { code: "permission_denied", message: `the tool ${call.name} is not among this process's tools` };
  }
  if (isMcpToolName(call.name)) {
    return { code: "tool_unavailable", message: `${call.name} is no longer offered: its MCP server was removed or no longer exposes the tool` };
  }
  return { code: "unknown_tool", message: `unknown tool ${call.name}` };
}
