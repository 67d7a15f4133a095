import { PEOPLE_TOOL_ARGS, TOOL_DESCRIPTIONS } from "../../contracts/tools";
import { isInputWait } from "../waits";
import { argumentProblem, invalid, kernelFailure } from "./tasks";
import type { Tool } from "./types";

/**
 * The people-in-the-loop tools (SPEC §11). `request_input` waits inside the loop like collect: the
 * kernel routes the question (a worker's to its copilot through the task, a top-level process's to a
 * person) and the answer, once delivered, is the call's result. `reply_task` is the copilot's answer.
 */

const requestInput: Tool = {
  name: "request_input",
  description: TOOL_DESCRIPTIONS.request_input!,
  args: PEOPLE_TOOL_ARGS.request_input,
  loopOnly: true,
  async run(call, ctx) {
    const args = PEOPLE_TOOL_ARGS.request_input.safeParse(call.arguments);
    if (!args.success) return invalid(argumentProblem(args.error));
    const { question } = args.data;
    // Idempotent per call id: a step re-run after a crash asks the kernel again and gets the same route.
    const route = await ctx.requestInput(call.id, question);
    return { wait: { kind: "input", question, to: route.kind, ...(route.kind === "task" ? { taskId: route.taskId } : {}) } };
  },
  async resume(call, wait, ctx) {
    if (!isInputWait(wait) || !wait.answer) return null;
    // A person's answer clears the process's pendingInput in the kernel: told again here (idempotent), so a
    // failed report at answer time is made good before the answer becomes the result.
    if (wait.to === "person") await ctx.inputProvided(call.id, wait.answer.by, wait.answer.text);
    return { ok: true, output: wait.answer.text };
  },
};

const replyTask: Tool = {
  name: "reply_task",
  description: TOOL_DESCRIPTIONS.reply_task!,
  args: PEOPLE_TOOL_ARGS.reply_task,
  loopOnly: false,
  async run(call, ctx) {
    const args = PEOPLE_TOOL_ARGS.reply_task.safeParse(call.arguments);
    if (!args.success) return invalid(argumentProblem(args.error));
    // Keyed by the call id: a step re-run after a crash gets the reply it already made, not task_not_waiting.
    const out = await ctx.replyTask(args.data.taskId, args.data.message, call.id);
    if (!out.ok) return kernelFailure(out);
    // The task is working again at once for this copilot's collects (the kernel's delivery of it is
    // idempotent); a worker with another question open stays input-required.
    if (out.value.state === "working") ctx.inbox.markAnswered(args.data.taskId);
    return { ok: true, output: JSON.stringify(out.value) };
  },
};

export const peopleTools: Tool[] = [requestInput, replyTask];
