import { z } from "zod";
import { pageQuery } from "./common";

export const AuditEvent = z.enum([
  "agent_registered",
  "agent_deleted",
  "spawn",
  "spawn_vetoed",
  "terminate",
  "delegate",
  "task_state",
  "cancel",
  "kill",
  "dispatch_denied",
  "dispatch_vetoed",
  "hook_changed",
  "hook_warning",
  "checkpoint",
  "restore",
  "reap",
  "mcp_registered",
  "mcp_refreshed",
  "mcp_removed",
  "mcp_call",
  "approval_requested",
  "approval_decided",
  "input_requested",
  "input_provided",
]);
export type AuditEvent = z.infer<typeof AuditEvent>;

export const AuditEntry = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string(),
  event: AuditEvent,
  pid: z.number().int().optional(),
  parentPid: z.number().int().optional(),
  taskId: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;
export type AuditDraft = Omit<AuditEntry, "seq" | "at" | "prevHash" | "hash">;

export const AuditQuery = z.strictObject({
  /** The SPEC's name for the cursor: entries after this sequence number. */
  afterSeq: z.coerce.number().int().nonnegative().default(0),
  ...pageQuery(100),
});
export const AuditVerifyQuery = z.strictObject({ full: z.enum(["true", "false", "1", "0"]).optional() });
export const AuditVerify = z.object({ ok: z.boolean(), entries: z.number().int(), head: z.string(), brokenAt: z.number().int().optional() });
export type AuditVerify = z.infer<typeof AuditVerify>;
