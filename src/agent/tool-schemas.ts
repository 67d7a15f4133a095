import { z } from "zod";
import type { ToolSchema } from "../models/model";
import { builtinTools, type ToolRegistry } from "../process/tools/registry";
import type { Tool } from "../process/tools/types";

const schemas = new WeakMap<Tool, ToolSchema>();

/**
 * JSON-schema tool descriptions, derived from the same zod contracts that validate the calls; an
 * MCP tool's is its server's own schema, as the server gave it (without `$schema`, which providers refuse).
 */
export function toolSchemas(names: readonly string[], registry: ToolRegistry = builtinTools): ToolSchema[] {
  const out: ToolSchema[] = [];
  for (const name of names) {
    const tool = registry.get(name);
    if (!tool) continue;
    let schema = schemas.get(tool);
    if (!schema) {
      const { $schema: _, ...parameters } = tool.parameters ?? (z.toJSONSchema(tool.args, { io: "input" }) as Record<string, unknown>);
      schema = { name, description: tool.description, parameters };
      schemas.set(tool, schema);
    }
    out.push(schema);
  }
  return out;
}
