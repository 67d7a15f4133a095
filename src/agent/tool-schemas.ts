import { z } from "zod";
import { FS_TOOL_ARGS, TASK_TOOL_ARGS, TOOL_DESCRIPTIONS } from "../contracts/tools";
import type { ToolSchema } from "../models/model";

const ARGS: Record<string, z.ZodType> = { ...FS_TOOL_ARGS, ...TASK_TOOL_ARGS };
const schemas = new Map<string, ToolSchema>();

/** JSON-schema tool descriptions, derived from the same zod contracts that validate the calls. */
export function toolSchemas(names: readonly string[]): ToolSchema[] {
  const out: ToolSchema[] = [];
  for (const name of names) {
    if (!Object.hasOwn(ARGS, name)) continue;
    const args = ARGS[name]!;
    let schema = schemas.get(name);
    if (!schema) {
      const { $schema: _, ...parameters } = z.toJSONSchema(args, { io: "input" }) as Record<string, unknown>;
      schema = { name, description: TOOL_DESCRIPTIONS[name] ?? name, parameters };
      schemas.set(name, schema);
    }
    out.push(schema);
  }
  return out;
}
