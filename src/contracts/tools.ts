import { z } from "zod";
import { MAX_GLOB_LENGTH } from "../lib/glob";
import { Budget, FsScope, ToolPattern } from "./agent";
import { Metadata } from "./common";

const Path = z.string().min(1).max(4096);

export const ReadFileArgs = z.strictObject({
  path: Path,
  offset: z.number().int().nonnegative().optional(),
  limit: z.number().int().positive().optional(),
});
export const WriteFileArgs = z.strictObject({ path: Path, content: z.string() });
export const EditFileArgs = z.strictObject({ path: Path, oldText: z.string().min(1), newText: z.string() });
export const ListDirArgs = z.strictObject({ path: Path.default("/"), recursive: z.boolean().default(false) });
/** The longest regex grep accepts; grep also caps what the compiled pattern may cost (src/workspace/fs-tools.ts). */
export const MAX_GREP_PATTERN_LENGTH = 1024;
export const GlobArgs = z.strictObject({ pattern: z.string().min(1).max(MAX_GLOB_LENGTH), path: Path.optional() });
export const GrepArgs = z.strictObject({
  pattern: z.string().min(1).max(MAX_GREP_PATTERN_LENGTH),
  path: Path.optional(),
  glob: z.string().max(MAX_GLOB_LENGTH).optional(),
  ignoreCase: z.boolean().default(false),
  maxResults: z.number().int().min(1).max(1000).default(50),
});
export const DeleteFileArgs = z.strictObject({ path: Path });

export const DeliveryPolicy = z.enum(["immediate", "deferred", "on_demand"]);
export const DelegateArgs = z.strictObject({
  agent: z.string(),
  message: z.string(),
  // Globs, as in an AgentSpec and with its caps: a delegation may come from a model.
  tools: z.array(ToolPattern).max(256).optional(),
  fs: z.array(FsScope).max(64).optional(),
  budget: Budget.optional(),
  deliveryPolicy: DeliveryPolicy.optional(),
  metadata: Metadata.optional(),
});
export const CollectArgs = z.strictObject({
  taskIds: z.array(z.string()).optional(),
  mode: z.enum(["all", "any", "first_n", "quorum"]).default("all"),
  n: z.number().int().positive().optional(),
  timeoutMs: z.number().int().nonnegative().optional(),
});
export const CancelTaskArgs = z.strictObject({ taskId: z.string() });
export const ListTasksArgs = z.strictObject({});
/** The longest question an agent may ask, and the longest answer a copilot may give (SPEC §11). */
export const MAX_QUESTION_CHARS = 10_000;
export const MAX_REPLY_CHARS = 100_000;
export const RequestInputArgs = z.strictObject({ question: z.string().trim().min(1).max(MAX_QUESTION_CHARS) });
export const ReplyTaskArgs = z.strictObject({ taskId: z.string().min(1).max(256), message: z.string().min(1).max(MAX_REPLY_CHARS) });

/** The file tools: they run in the tenant's workspace object. */
export const FS_TOOL_ARGS = {
  read_file: ReadFileArgs,
  write_file: WriteFileArgs,
  edit_file: EditFileArgs,
  list_dir: ListDirArgs,
  glob: GlobArgs,
  grep: GrepArgs,
  delete_file: DeleteFileArgs,
} as const;
export type FsToolName = keyof typeof FS_TOOL_ARGS;
export const FS_TOOL_NAMES = Object.keys(FS_TOOL_ARGS) as FsToolName[];
export const isFsTool = (name: string): name is FsToolName => Object.hasOwn(FS_TOOL_ARGS, name);

/** The delegation tools (SPEC §7). */
export const TASK_TOOL_ARGS = {
  delegate: DelegateArgs,
  collect: CollectArgs,
  cancel_task: CancelTaskArgs,
  list_tasks: ListTasksArgs,
} as const;

/** The people-in-the-loop tools (SPEC §11): a question, and a copilot's answer to one. */
export const PEOPLE_TOOL_ARGS = {
  request_input: RequestInputArgs,
  reply_task: ReplyTaskArgs,
} as const;

/** Every built-in tool a process can be granted (by name or glob); spawn-time expansion matches against these. */
export const ALL_TOOL_NAMES: string[] = [...FS_TOOL_NAMES, ...Object.keys(TASK_TOOL_ARGS), ...Object.keys(PEOPLE_TOOL_ARGS)];

export const TOOL_DESCRIPTIONS: Record<string, string> = {
  read_file: "Read a text file. offset and limit select lines (0-based offset).",
  write_file: "Create or overwrite a text file (up to 1 MiB).",
  edit_file: "Replace oldText with newText in a file; oldText must occur exactly once.",
  list_dir: "List the entries of a directory, optionally recursively.",
  glob: "List the files whose paths match a glob pattern.",
  grep: "Search files for a regular expression (RE2 syntax: no lookaround or backreferences); answers file:line: text lines.",
  delete_file: "Delete a file.",
  delegate: "Delegate a task to a worker agent; answers {taskId, pid}.",
  collect: "Wait for delegated tasks and collect their results.",
  cancel_task: "Cancel a delegated task.",
  list_tasks: "List this process's delegated tasks.",
  request_input:
    "Ask for information you lack and cannot find yourself. A worker's question goes to its copilot, a top-level process's to a person; you wait, and the answer is this call's result.",
  reply_task: "Answer the question of one of your delegated tasks (a task that needs input, as collect lists it); the worker then goes on.",
};

/** What a workspace answers for one file-tool call. */
export type FsToolOutcome =
  | { ok: true; output: string }
  | { ok: false; code: "permission_denied" | "invalid_arguments" | "file_not_found" | "tool_error"; message: string; path?: string };

export const MAX_FILE_BYTES = 1024 * 1024;
