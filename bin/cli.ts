/**
 * `agent-kernel`: the operator's command line (SPEC §13), built on the typed client (src/client) and
 * citty. Run it as `npx agent-kernel <command>` from a checkout; bin/agent-kernel.mjs starts this
 * file with Node's built-in type stripping (no build step), so it uses only erasable TypeScript.
 *
 * Settings: AK_URL (default http://127.0.0.1:8787) and AK_TOKEN, or --url / --token on any command.
 * Human tables by default, --json for scripts; a failure exits non-zero with the API's message.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineCommand, runMain, type ArgsDef, type CommandDef } from "citty";
import { createClient, KernelApiError, type KernelClient, type McpServer, type Process, type StreamEvent } from "../src/client/index.ts";
import { mintToken, parseTtl, readAuthSecret, ROLES } from "../scripts/lib/jwt.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_URL = "http://127.0.0.1:8787";

// ---------- settings, output, errors ----------

const common = {
  url: { type: "string", description: `The kernel's URL (default $AK_URL or ${DEFAULT_URL})`, valueHint: "url" },
  token: { type: "string", description: "Bearer token (default $AK_TOKEN; mint one with `agent-kernel token`)", valueHint: "jwt" },
  json: { type: "boolean", description: "Print JSON for scripts instead of a table", default: false },
} as const satisfies ArgsDef;

interface Common {
  url?: string;
  token?: string;
  json?: boolean;
}

function clientOf(args: Common): KernelClient {
  const token = args.token || process.env.AK_TOKEN || undefined;
  return createClient({ baseUrl: args.url || process.env.AK_URL || DEFAULT_URL, ...(token ? { token } : {}) });
}

/** A failure the user should read: printed as `error: ...`, exit code 1 unless given. */
class CliFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Runs a command body; API errors and failures become a message on stderr and a non-zero exit. */
async function run(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof KernelApiError) {
      const details = err.details === undefined ? "" : `\n${JSON.stringify(err.details, null, 2)}`;
      process.stderr.write(`error: ${err.message} (${err.status ? `${err.status} ` : ""}${err.code})${details}\n`);
      if (err.status === 401 && !process.env.AK_TOKEN) process.stderr.write("hint: set AK_TOKEN or pass --token (mint one with `agent-kernel token <tenant>`)\n");
      process.exit(1);
    }
    if (err instanceof CliFailure) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    throw err;
  }
}

function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}
const printJson = (value: unknown): void => print(JSON.stringify(value, null, 2));

/** A plain text table: columns padded to their widest cell. */
function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? "" : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

const short = (text: string | null | undefined, max = 60) => {
  const one = (text ?? "").replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
};
const tokensOf = (p: Process) => p.usage.inputTokens + p.usage.outputTokens;
const exitOf = (p: Process) => (p.exit ? `${p.exit.code}` : "");

function pidArg(text: string): number {
  const pid = Number(text);
  if (!Number.isSafeInteger(pid) || pid < 1) throw new CliFailure(`not a pid: ${JSON.stringify(text)}`);
  return pid;
}

function intArg(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new CliFailure(`--${name} needs a whole number, got ${JSON.stringify(text)}`);
  return n;
}

function readInput(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new CliFailure(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------- agents ----------

const agents = defineCommand({
  meta: { name: "agents", description: "Registered agents: ls | get <name> | put <file> | rm <name>" },
  subCommands: {
    ls: defineCommand({
      meta: { name: "ls", description: "List the registered agents" },
      args: { ...common },
      run: ({ args }) =>
        run(async () => {
          const list = [];
          for await (const a of clientOf(args).agents.all()) list.push(a);
          if (args.json) return printJson(list);
          print(table(["NAME", "MODEL", "MODE", "TOOLS", "DESCRIPTION"], list.map((a) => [a.name, a.model, a.mode, a.tools.join(","), short(a.description, 40)])));
        }),
    }),
    get: defineCommand({
      meta: { name: "get", description: "Show an agent's spec (JSON)" },
      args: { name: { type: "positional", required: true, description: "agent name" }, ...common },
      run: ({ args }) => run(async () => printJson(await clientOf(args).agents.get(args.name))),
    }),
    put: defineCommand({
      meta: { name: "put", description: "Register or replace an agent from a JSON file (`-` reads stdin); the name is --name, else the file's \"name\", else the file name" },
      args: {
        file: { type: "positional", required: true, description: "a JSON AgentSpec, e.g. greeter.json" },
        name: { type: "string", description: "the agent's name" },
        ...common,
      },
      run: ({ args }) =>
        run(async () => {
          let spec: Record<string, unknown>;
          try {
            spec = JSON.parse(readInput(args.file)) as Record<string, unknown>;
          } catch (err) {
            if (err instanceof CliFailure) throw err;
            throw new CliFailure(`${args.file} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
          }
          const { name: inFile, ...body } = spec;
          const name = args.name || (typeof inFile === "string" ? inFile : "") || basename(args.file, extname(args.file));
          if (!name || name === "-") throw new CliFailure("name the agent with --name");
          const stored = await clientOf(args).agents.put(name, body as never);
          if (args.json) return printJson(stored);
          print(`registered ${stored.name} (${stored.model})`);
        }),
    }),
    rm: defineCommand({
      meta: { name: "rm", description: "Delete an agent (its processes run on)" },
      args: { name: { type: "positional", required: true, description: "agent name" }, ...common },
      run: ({ args }) =>
        run(async () => {
          const res = await clientOf(args).agents.delete(args.name);
          if (args.json) return printJson(res);
          print(`deleted ${res.deleted}`);
        }),
    }),
  },
});

// ---------- processes ----------

function processTable(list: Process[]): string {
  return table(
    ["PID", "PPID", "AGENT", "STATE", "TURNS", "TOKENS", "TOOLS", "EXIT", "RESULT"],
    list.map((p) => [p.pid, p.parentPid ?? "-", p.agent, p.state, p.turnCount, tokensOf(p), p.usage.toolCalls, exitOf(p), short(p.result ?? p.exit?.reason ?? "", 40)]),
  );
}

/** The process tree: children under their parents (a parent outside the list makes a root). */
function processTree(list: Process[]): string {
  const byPid = new Map(list.map((p) => [p.pid, p]));
  const children = new Map<number, Process[]>();
  const roots: Process[] = [];
  for (const p of list) {
    if (p.parentPid !== null && byPid.has(p.parentPid)) children.set(p.parentPid, [...(children.get(p.parentPid) ?? []), p]);
    else roots.push(p);
  }
  const lines: string[] = [];
  const label = (p: Process) => `${p.pid} ${p.agent} [${p.state}${p.exit ? ` exit ${p.exit.code}` : ""}] turns ${p.turnCount}, tokens ${tokensOf(p)}, tools ${p.usage.toolCalls}${p.taskId ? `, task ${p.taskId.slice(0, 8)}` : ""}`;
  const walk = (p: Process, prefix: string, last: boolean, top: boolean) => {
    lines.push(top ? label(p) : `${prefix}${last ? "└─ " : "├─ "}${label(p)}`);
    const kids = children.get(p.pid) ?? [];
    kids.forEach((k, i) => walk(k, top ? "" : `${prefix}${last ? "   " : "│  "}`, i === kids.length - 1, false));
  };
  for (const r of roots) walk(r, "", true, true);
  return lines.join("\n");
}

const ps = defineCommand({
  meta: { name: "ps", description: "List processes (-w follows the tenant's event stream and redraws on every change until Ctrl-C)" },
  args: {
    tree: { type: "boolean", description: "Show the process tree", default: false },
    state: { type: "enum", options: ["created", "running", "sleeping", "paused", "zombie", "stopped"], description: "Only processes in this state" },
    agent: { type: "string", description: "Only processes of this agent" },
    parent: { type: "string", description: "Only children of this pid", valueHint: "pid" },
    watch: {
      type: "boolean",
      alias: "w",
      description: "Follow GET /v1/events and redraw on each process change until Ctrl-C (with --json: one JSON line per proc event)",
      default: false,
    },
    ...common,
  },
  run: ({ args }) =>
    run(async () => {
      const api = clientOf(args);
      const parentPid = args.parent ? pidArg(args.parent) : undefined;
      const query = {
        ...(args.state ? { state: args.state as Process["state"] } : {}),
        ...(args.agent ? { agent: args.agent } : {}),
        ...(parentPid !== undefined ? { parentPid } : {}),
      };
      const render = (list: Process[]) => {
        if (list.length === 0) return "no processes";
        return args.tree ? processTree(list) : processTable(list);
      };
      const list: Process[] = [];
      if (!args.watch || !args.json) for await (const p of api.procs.all(query)) list.push(p);
      if (!args.watch) return print(args.json ? JSON.stringify(list, null, 2) : render(list));
      await watchProcs(api, list, render, args.json ?? false, (p) =>
        (query.state === undefined || p.state === query.state) && (query.agent === undefined || p.agent === query.agent) && (parentPid === undefined || p.parentPid === parentPid),
      );
    }),
});

/**
 * `ps -w`: the table as listed, then kept current from the tenant's feed (`proc` events carry the
 * process as it is), redrawn on each change (at most every 100 ms) until Ctrl-C. With --json, one
 * JSON line per `proc` event that passes the filters: the backlog the kernel keeps, then live.
 */
async function watchProcs(api: KernelClient, initial: Process[], render: (list: Process[]) => string, json: boolean, keep: (p: Process) => boolean): Promise<void> {
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());
  const shown = new Map(initial.map((p) => [p.pid, p]));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const draw = () => {
    timer = undefined;
    const rows = [...shown.values()].sort((a, b) => a.pid - b.pid);
    process.stdout.write(`\x1b[2J\x1b[H${new Date().toLocaleTimeString()}  (live from /v1/events, Ctrl-C to stop)\n${render(rows)}\n`);
  };
  if (!json) draw();
  try {
    for await (const e of api.events({ signal: stop.signal })) {
      if (e.event !== "proc" || !("process" in e.data)) continue;
      const p = e.data.process;
      if (json) {
        if (keep(p)) print(JSON.stringify(e));
        continue;
      }
      if (keep(p)) shown.set(p.pid, p);
      else if (!shown.delete(p.pid)) continue;
      timer ??= setTimeout(draw, 100);
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for an exit, up to `timeoutMs` in total (0 = forever), 60 s per request. */
async function waitFor(api: KernelClient, pid: number, timeoutMs: number) {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  for (;;) {
    const left = deadline - Date.now();
    const status = await api.procs.wait(pid, { timeoutMs: Math.max(0, Math.min(60_000, left)) });
    if (status.exited || Date.now() >= deadline) return status;
  }
}

async function reportWait(api: KernelClient, pid: number, timeoutMs: number, json: boolean) {
  const status = await waitFor(api, pid, timeoutMs);
  if (json) printJson(status);
  if (!status.exited) {
    if (!json) print(`pid ${pid} is still ${status.state}`);
    throw new CliFailure(`pid ${pid} has not exited yet`, 3);
  }
  if (!json) {
    if (status.result !== null) print(status.result);
    process.stderr.write(`pid ${pid} exited ${status.code}: ${status.reason}\n`);
  }
  if (status.code !== 0) process.exit(1);
}

const timeoutArg = { type: "string", description: "Give up after this many ms (default 0: wait until it exits)", valueHint: "ms" } as const;

const spawn = defineCommand({
  meta: { name: "spawn", description: "Spawn a process of a registered agent (prints its pid; --wait prints its result)" },
  args: {
    agent: { type: "positional", required: true, description: "agent name" },
    input: { type: "positional", required: true, description: "the first user message" },
    wait: { type: "boolean", description: "Wait for the exit and print the result (exit code 1 unless it completed)", default: false },
    timeout: timeoutArg,
    parent: { type: "string", description: "Spawn as a child of this pid", valueHint: "pid" },
    ...common,
  },
  run: ({ args }) =>
    run(async () => {
      const api = clientOf(args);
      const p = await api.procs.spawn({ agent: args.agent, input: args.input, ...(args.parent ? { parentPid: pidArg(args.parent) } : {}) });
      if (!args.wait) return args.json ? printJson(p) : print(String(p.pid));
      if (!args.json) process.stderr.write(`pid ${p.pid}\n`);
      await reportWait(api, p.pid, intArg(args.timeout, "timeout") ?? 0, args.json);
    }),
});

const wait = defineCommand({
  meta: { name: "wait", description: "Wait for a process to exit; prints its result (an operator's wait reaps it)" },
  args: { pid: { type: "positional", required: true, description: "pid" }, timeout: timeoutArg, ...common },
  run: ({ args }) => run(async () => reportWait(clientOf(args), pidArg(args.pid), intArg(args.timeout, "timeout") ?? 0, args.json)),
});

const kill = defineCommand({
  meta: { name: "kill", description: "Kill a process and (unless --no-cascade) its descendants" },
  args: {
    pid: { type: "positional", required: true, description: "pid" },
    signal: { type: "enum", options: ["SIGTERM", "SIGKILL"], description: "SIGTERM (default, exit -15) or SIGKILL (exit -9)" },
    reason: { type: "string", description: "Why (becomes the exit reason)" },
    cascade: { type: "boolean", default: true, description: "Also kill live descendants", negativeDescription: "Leave descendants running" },
    ...common,
  },
  run: ({ args }) =>
    run(async () => {
      const res = await clientOf(args).procs.kill(pidArg(args.pid), {
        ...(args.signal ? { signal: args.signal as "SIGTERM" | "SIGKILL" } : {}),
        ...(args.reason ? { reason: args.reason } : {}),
        cascade: args.cascade,
      });
      if (args.json) return printJson(res);
      print(`killed: ${res.killed.join(" ") || "-"}; already exited: ${res.alreadyExited.join(" ") || "-"}`);
    }),
});

function eventLine(e: StreamEvent): string {
  const { seq: _seq, at, ...rest } = e.data;
  const time = typeof at === "string" ? at.slice(11, 23) : "";
  return `${(e.id ?? "").padStart(4)} ${time} ${e.event.padEnd(11)} ${short(JSON.stringify(rest), 160)}`;
}

const logs = defineCommand({
  meta: {
    name: "logs",
    description: "A process's events (the SSE stream). Without -f: what is recorded so far (it stops once the stream is quiet for a moment); -f follows live events until the process exits or Ctrl-C",
  },
  args: {
    pid: { type: "positional", required: true, description: "pid" },
    follow: { type: "boolean", alias: "f", description: "Follow live events", default: false },
    after: { type: "string", description: "Start after this event id (Last-Event-ID)", valueHint: "id" },
    ...common,
  },
  run: ({ args }) =>
    run(async () => {
      const api = clientOf(args);
      const stop = new AbortController();
      const quiet = 750;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        if (args.follow) return;
        clearTimeout(timer);
        timer = setTimeout(() => stop.abort(), quiet);
      };
      arm();
      try {
        for await (const e of api.procs.events(pidArg(args.pid), { signal: stop.signal, ...(args.after ? { lastEventId: args.after } : {}) })) {
          print(args.json ? JSON.stringify(e) : eventLine(e));
          arm();
        }
      } catch (err) {
        if (!stop.signal.aborted) throw err;
      } finally {
        clearTimeout(timer);
      }
    }),
});

const tasks = defineCommand({
  meta: { name: "tasks", description: "A copilot's delegated tasks (A2A)" },
  args: { pid: { type: "positional", required: true, description: "the copilot's pid" }, ...common },
  run: ({ args }) =>
    run(async () => {
      const list = [];
      for await (const t of clientOf(args).tasks.all({ copilotPid: pidArg(args.pid) })) list.push(t);
      if (args.json) return printJson(list);
      if (list.length === 0) return print("no tasks");
      print(
        table(
          ["TASK", "WORKER", "AGENT", "STATE", "POLICY", "RESULT"],
          list.map((t) => [t.id, t.metadata.workerPid, t.metadata.agent, t.status.state, t.metadata.deliveryPolicy, short(t.artifacts[0]?.parts[0]?.text ?? t.status.message ?? "", 40)]),
        ),
      );
    }),
});

// ---------- MCP servers ----------

/** Every `--header "Name: value"` (citty keeps only the last of a repeated flag, so they are read from the raw arguments). */
function headersOf(rawArgs: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    const value = arg === "--header" || arg === "-H" ? rawArgs[++i] : arg.startsWith("--header=") ? arg.slice("--header=".length) : undefined;
    if (value === undefined) continue;
    const colon = value.indexOf(":");
    if (colon < 1) throw new CliFailure(`--header needs "Name: value", got ${JSON.stringify(value.length > 40 ? `${value.slice(0, 20)}…` : value)}`);
    headers[value.slice(0, colon).trim()] = value.slice(colon + 1).trim();
  }
  return headers;
}

function mcpSummary(s: McpServer): string {
  const lines = [
    `${s.name}  ${s.url}  (${s.serverInfo.name} ${s.serverInfo.version})`,
    `headers: ${s.headerNames.join(", ") || "-"}   tools: ${s.tools.join(",")}   timeout: ${s.timeoutMs} ms   refreshed: ${s.refreshedAt}`,
    table(["TOOL", "HINTS", "DESCRIPTION"], s.exposed.map((t) => [t.name, Object.entries(t.annotations).filter(([, v]) => v).map(([k]) => k.replace(/Hint$/, "")).join(",") || "-", short(t.description, 60)])),
  ];
  if (s.unexposed.length) lines.push(`not exposed: ${s.unexposed.join(", ")}`);
  for (const k of s.skipped) lines.push(`skipped ${k.tool}: ${k.reason}`);
  return lines.join("\n");
}

const mcpName = { name: { type: "positional", required: true, description: "server name (1-32 of a-z, 0-9, -)" } } as const;

const mcp = defineCommand({
  meta: { name: "mcp", description: "MCP servers whose tools agents can be granted as mcp__<server>__<tool>: ls | get <name> | put <name> <server-url> | refresh <name> | rm <name> (list and add are the same as ls and put)" },
  subCommands: {
    list: defineCommand({
      meta: { name: "list", description: "List the MCP servers and how many tools each exposes" },
      args: { ...common },
      run: ({ args }) =>
        run(async () => {
          const list: McpServer[] = [];
          for await (const s of clientOf(args).mcp.all()) list.push(s);
          if (args.json) return printJson(list);
          if (list.length === 0) return print("no MCP servers");
          print(table(["NAME", "URL", "TOOLS", "HEADERS", "REFRESHED"], list.map((s) => [s.name, s.url, s.exposed.length, s.headerNames.join(",") || "-", s.refreshedAt])));
        }),
    }),
    get: defineCommand({
      meta: { name: "get", description: "Show a server and its exposed tools" },
      args: { ...mcpName, ...common },
      run: ({ args }) =>
        run(async () => {
          const s = await clientOf(args).mcp.get(args.name);
          print(args.json ? JSON.stringify(s, null, 2) : mcpSummary(s));
        }),
    }),
    add: defineCommand({
      meta: { name: "add", description: "Register (or replace) a server: the kernel connects, lists its tools and stores them" },
      args: {
        ...mcpName,
        endpoint: { type: "positional", required: true, description: "the server's Streamable HTTP URL, e.g. https://example.com/mcp" },
        header: { type: "string", alias: "H", description: 'A header sent with every request, "Name: value" (repeatable; values are write-only)', valueHint: "Name: value" },
        tools: { type: "string", description: "Comma-separated globs over the server's tool names to expose (default *)", valueHint: "globs" },
        timeout: { type: "string", description: "Connection and listing timeout in ms (default 30000)", valueHint: "ms" },
        ...common,
      },
      run: ({ args, rawArgs }) =>
        run(async () => {
          const timeoutMs = intArg(args.timeout, "timeout");
          const tools = args.tools ? args.tools.split(",").map((t) => t.trim()).filter(Boolean) : undefined;
          const s = await clientOf(args).mcp.put(args.name, { url: args.endpoint, headers: headersOf(rawArgs), ...(tools ? { tools } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
          print(args.json ? JSON.stringify(s, null, 2) : `registered ${s.name}: ${s.exposed.length} tools\n${mcpSummary(s)}`);
        }),
    }),
    refresh: defineCommand({
      meta: { name: "refresh", description: "List the server's tools again" },
      args: { ...mcpName, ...common },
      run: ({ args }) =>
        run(async () => {
          const s = await clientOf(args).mcp.refresh(args.name);
          if (args.json) return printJson(s);
          const { added, removed, changed } = s.changes;
          print(`refreshed ${s.name}: ${s.exposed.length} tools (added: ${added.join(", ") || "-"}; removed: ${removed.join(", ") || "-"}; changed: ${changed.join(", ") || "-"})`);
        }),
    }),
    rm: defineCommand({
      meta: { name: "rm", description: "Remove a server (calls of its tools become tool_unavailable errors)" },
      args: { ...mcpName, ...common },
      run: ({ args }) =>
        run(async () => {
          const res = await clientOf(args).mcp.delete(args.name);
          if (args.json) return printJson(res);
          print(`removed ${res.deleted}`);
        }),
    }),
  },
});
// SPEC §13 names them `mcp ls|put|rm`; `list` and `add` read better in help, so both spellings work.
{
  const subs = mcp.subCommands as Record<string, CommandDef>;
  subs.ls = subs.list!;
  subs.put = subs.add!;
}

// ---------- people in the loop: approvals and replies ----------

const APPROVAL_STATES = ["pending", "approved", "rejected", "expired"] as const;

const approvalLs = defineCommand({
  meta: { name: "ls", description: "List approvals (default: pending ones; --state all for every state)" },
  args: {
    state: { type: "string", description: `${APPROVAL_STATES.join(" | ")} | all (default pending)`, valueHint: "state" },
    pid: { type: "string", description: "Only this process's approvals", valueHint: "pid" },
    root: { type: "string", description: "Only approvals of this tree (a copilot and its workers)", valueHint: "pid" },
    ...common,
  },
  run: ({ args }) =>
    run(async () => {
      const state = args.state || "pending";
      if (state !== "all" && !(APPROVAL_STATES as readonly string[]).includes(state)) throw new CliFailure(`--state must be one of ${APPROVAL_STATES.join(", ")}, all; got ${JSON.stringify(state)}`);
      const list = [];
      const query = {
        ...(state !== "all" ? { state: state as (typeof APPROVAL_STATES)[number] } : {}),
        ...(args.pid ? { pid: pidArg(args.pid) } : {}),
        ...(args.root ? { rootPid: pidArg(args.root) } : {}),
      };
      for await (const a of clientOf(args).approvals.all(query)) list.push(a);
      if (args.json) return printJson(list);
      if (list.length === 0) return print(`no ${state === "all" ? "" : `${state} `}approvals`);
      print(
        table(
          ["ID", "PID", "ROOT", "AGENT", "TOOL", "STATE", "EXPIRES", "ARGUMENTS / DECISION"],
          list.map((a) => [a.id, a.pid, a.rootPid, a.agent, a.tool, a.state, a.state === "pending" ? a.expiresAt : "", short(a.state === "pending" ? JSON.stringify(a.arguments) : `${a.decidedBy ?? ""}${a.message ? `: ${a.message}` : ""}`, 50)]),
        ),
      );
    }),
});

const decideArgs = {
  id: { type: "positional", required: true, description: "the approval id" },
  message: { type: "string", alias: "m", description: "A message for the record (a rejection's reason: the model sees it)", valueHint: "text" },
  ...common,
} as const satisfies ArgsDef;

const printDecision = (a: { id: string; state: string; tool: string; pid: number; decidedBy?: string }, json?: boolean) =>
  json ? printJson(a) : print(`${a.state} ${a.id} (${a.tool} of process ${a.pid}) by ${a.decidedBy ?? "?"}`);

const approvals = defineCommand({
  meta: { name: "approvals", description: "Tool calls waiting for a person: [ls] (default) | get <id> | approve <id> [--args <json>] | reject <id> [-m reason]" },
  args: approvalLs.args,
  default: "ls",
  subCommands: {
    ls: approvalLs,
    get: defineCommand({
      meta: { name: "get", description: "Show an approval (JSON)" },
      args: { id: { type: "positional", required: true, description: "the approval id" }, ...common },
      run: ({ args }) => run(async () => printJson(await clientOf(args).approvals.get(args.id))),
    }),
    approve: defineCommand({
      meta: { name: "approve", description: "Approve: the call runs (with --args in place of the model's arguments)" },
      args: { ...decideArgs, args: { type: "string", description: "Replacement arguments, a JSON object (or @file)", valueHint: "json" } },
      run: ({ args }) =>
        run(async () => {
          let replaced: Record<string, unknown> | undefined;
          if (args.args !== undefined) {
            const text = args.args.startsWith("@") ? readInput(args.args.slice(1)) : args.args;
            try {
              replaced = JSON.parse(text);
            } catch {
              throw new CliFailure("--args needs a JSON object, e.g. '{\"path\": \"/tmp/x\"}'");
            }
            if (typeof replaced !== "object" || replaced === null || Array.isArray(replaced)) throw new CliFailure("--args needs a JSON object");
          }
          const a = await clientOf(args).approvals.approve(args.id, { ...(args.message ? { message: args.message } : {}), ...(replaced ? { arguments: replaced } : {}) });
          printDecision(a, args.json);
        }),
    }),
    reject: defineCommand({
      meta: { name: "reject", description: "Reject: the model sees `Error: rejected by <you>: <message>`" },
      args: decideArgs,
      run: ({ args }) => run(async () => printDecision(await clientOf(args).approvals.reject(args.id, args.message || undefined), args.json)),
    }),
  },
});

const reply = defineCommand({
  meta: { name: "reply", description: "Answer a worker's question (request_input): its task is working again" },
  args: {
    taskId: { type: "positional", required: true, description: "the task id (see `tasks <copilot pid>`)" },
    text: { type: "positional", required: true, description: "the answer (`-` reads stdin)" },
    ...common,
  },
  run: ({ args }) =>
    run(async () => {
      const res = await clientOf(args).tasks.reply(args.taskId, args.text === "-" ? readInput("-") : args.text);
      if (args.json) return printJson(res);
      print(`replied to ${res.taskId}: ${res.state}`);
    }),
});

// ---------- files, audit, token ----------

const fs = defineCommand({
  meta: { name: "fs", description: "Workspace files: ls [glob] | get <path> | put <path> <file> | rm <path>" },
  subCommands: {
    ls: defineCommand({
      meta: { name: "ls", description: "List files (default every file, /**)" },
      args: { glob: { type: "positional", required: false, description: "a glob, e.g. '/notes/**'" }, ...common },
      run: ({ args }) =>
        run(async () => {
          const files = await clientOf(args).fs.list(args.glob || undefined);
          if (args.json) return printJson(files);
          if (files.length > 0) print(files.join("\n"));
        }),
    }),
    get: defineCommand({
      meta: { name: "get", description: "Print a file" },
      args: { path: { type: "positional", required: true, description: "e.g. /hello.txt" }, ...common },
      run: ({ args }) =>
        run(async () => {
          const text = await clientOf(args).fs.read(args.path);
          if (args.json) return printJson({ path: args.path, content: text });
          process.stdout.write(text);
        }),
    }),
    put: defineCommand({
      meta: { name: "put", description: "Write a file from a local file (`-` reads stdin)" },
      args: { path: { type: "positional", required: true, description: "the workspace path" }, file: { type: "positional", required: true, description: "local file or -" }, ...common },
      run: ({ args }) =>
        run(async () => {
          const res = await clientOf(args).fs.write(args.path, readInput(args.file));
          if (args.json) return printJson(res);
          print(`wrote ${res.bytes} bytes to ${res.path}`);
        }),
    }),
    rm: defineCommand({
      meta: { name: "rm", description: "Delete a file" },
      args: { path: { type: "positional", required: true, description: "the workspace path" }, ...common },
      run: ({ args }) =>
        run(async () => {
          const res = await clientOf(args).fs.delete(args.path);
          if (args.json) return printJson(res);
          print(`deleted ${res.path}`);
        }),
    }),
  },
});

const auditArgs = {
  after: { type: "string", description: "Entries after this sequence number", valueHint: "seq" },
  limit: { type: "string", description: "At most this many entries (default all)", valueHint: "n" },
  ...common,
} as const satisfies ArgsDef;

const audit = defineCommand({
  meta: { name: "audit", description: "The audit log: [ls] (default) | verify [--full]" },
  args: auditArgs,
  default: "ls",
  subCommands: {
    ls: defineCommand({
      meta: { name: "ls", description: "Print the audit log" },
      args: auditArgs,
      run: ({ args }) =>
        run(async () => {
          const limit = intArg(args.limit, "limit");
          const entries = [];
          for await (const e of clientOf(args).audit.all({ afterSeq: intArg(args.after, "after") ?? 0 })) {
            if (limit !== undefined && entries.length >= limit) break;
            entries.push(e);
          }
          if (args.json) return printJson(entries);
          print(table(["SEQ", "AT", "ACTOR", "EVENT", "PID", "DATA"], entries.map((e) => [e.seq, e.at, e.actor, e.event, e.pid ?? "", short(JSON.stringify(e.data), 70)])));
        }),
    }),
    verify: defineCommand({
      meta: { name: "verify", description: "Verify the hash chain (exit 1 if broken)" },
      args: { full: { type: "boolean", description: "Re-hash the whole chain", default: false }, ...common },
      run: ({ args }) =>
        run(async () => {
          const res = await clientOf(args).audit.verify({ full: args.full });
          if (args.json) printJson(res);
          else print(res.ok ? `ok: ${res.entries} entries, head ${res.head}` : `BROKEN at entry ${res.brokenAt} (${res.entries} entries)`);
          if (!res.ok) process.exit(1);
        }),
    }),
  },
});

const token = defineCommand({
  meta: { name: "token", description: "Mint a bearer token locally, signed with AUTH_SECRET (environment or .dev.vars); prints only the token" },
  args: {
    tenant: { type: "positional", required: true, description: "tenant id" },
    role: { type: "positional", required: false, description: `${ROLES.join(" | ")} (default admin)` },
    ttl: { type: "string", description: "Lifetime: seconds or 90s / 30m / 24h / 7d (default 24h)", valueHint: "lifetime" },
  },
  run: ({ args }) =>
    run(async () => {
      const ttlSeconds = args.ttl === undefined ? 86_400 : parseTtl(args.ttl);
      if (ttlSeconds === null) throw new CliFailure(`--ttl needs a lifetime of at least 1 second (e.g. 3600, 30m, 24h, 7d), got ${JSON.stringify(args.ttl)}`, 2);
      const secret = readAuthSecret(join(root, ".dev.vars"));
      if (!secret) throw new CliFailure("no AUTH_SECRET: run `npm start` once (it creates .dev.vars) or set AUTH_SECRET in the environment", 2);
      try {
        print(mintToken({ tenant: args.tenant, role: (args.role || "admin") as (typeof ROLES)[number], ttlSeconds, secret }));
      } catch (err) {
        throw new CliFailure(err instanceof Error ? err.message : String(err), 2);
      }
    }),
});

// ---------- main ----------

export const main: CommandDef = defineCommand({
  meta: {
    name: "agent-kernel",
    version: "0.1.0",
    description: `Operate an Agent Kernel. Settings: AK_URL (default ${DEFAULT_URL}), AK_TOKEN, or --url/--token on each command; --json for scripts.`,
  },
  subCommands: {
    agents,
    ps,
    spawn,
    wait,
    kill,
    logs,
    tasks,
    fs,
    audit,
    token,
    approvals,
    reply,
    mcp,
  },
});

export const runCli = (rawArgs = process.argv.slice(2)) => {
  // A reader that went away (`agent-kernel ps -w --json | head`) ends the command quietly.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    process.exit(0);
  });
  return runMain(main, { rawArgs });
};
