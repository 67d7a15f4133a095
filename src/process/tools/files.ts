import { FS_TOOL_ARGS, FS_TOOL_NAMES, TOOL_DESCRIPTIONS, type FsToolName, type FsToolOutcome } from "../../contracts/tools";
import type { ToolFailure } from "./result";
import type { Tool } from "./types";

/** The file tools (SPEC §6): they run in the tenant's workspace object, which checks the fs scopes. */
export const fileTools: Tool[] = FS_TOOL_NAMES.map((name: FsToolName) => ({
  name,
  description: TOOL_DESCRIPTIONS[name] ?? name,
  args: FS_TOOL_ARGS[name],
  loopOnly: false,
  async run(call, ctx) {
    const out = await ctx.runFsTool(name, call.arguments, call.id, ctx.hidden);
    return out.ok ? { ok: true, output: out.output } : { ok: false, failure: fsFailure(out) };
  },
}));

function fsFailure(out: Extract<FsToolOutcome, { ok: false }>): ToolFailure {
  switch (out.code) {
    case "permission_denied":
    case "invalid_arguments":
      return { code: out.code, message: out.message };
    default:
      return { code: "tool_error", message: out.message };
  }
}
