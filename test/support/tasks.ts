import type { CollectResult, Task } from "../../src/contracts/tasks";
import type { AgentSpecInput, ScriptStep } from "../../src/contracts";
import { register, type Client } from "./agents";

export const TASK_TOOLS = ["delegate", "collect", "cancel_task", "list_tasks"];
export const delegate = (agent: string, message: string, extra: Record<string, unknown> = {}) => ({ name: "delegate", arguments: { agent, message, ...extra } });
export const collect = (args: Record<string, unknown> = {}) => ({ name: "collect", arguments: args });

/** A copilot agent: the task tools plus whatever else it is given. */
export function registerCopilot(api: Client, name: string, script: ScriptStep[], extra: Partial<AgentSpecInput> = {}) {
  return register(api, name, { ...extra, tools: [...TASK_TOOLS, ...(extra.tools ?? [])], script } as Partial<AgentSpecInput> & { script: ScriptStep[] });
}

export async function tasksOf(api: Client, copilotPid: number): Promise<Task[]> {
  return (await api.get(`/v1/tasks?copilotPid=${copilotPid}`)).body.tasks;
}

/** The copilot's final answer, when its script ends with `{ text: "{{lastToolResult}}" }` after a collect. */
export const collected = (result: string | null): CollectResult => JSON.parse(result ?? "null") as CollectResult;
