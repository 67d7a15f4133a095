/**
 * The console (SPEC §13): a page served by the Worker's static assets at /console/. It talks to the
 * same origin's API with the typed client (src/client), authenticated by a token pasted once and kept
 * in sessionStorage, and stays current from the tenant's feed (GET /v1/events), read with fetch and a
 * streaming SSE parser because EventSource cannot send an Authorization header.
 */
import { createClient, KernelApiError, type KernelClient, type Process } from "../../src/client/index";
import { followFeed } from "./feed";
import { append, h, setAttr, setText, short, time } from "./dom";
import {
  agentsOf,
  applyFeedEvent,
  budgetOf,
  buildTree,
  emptyState,
  FeedCursor,
  formatCount,
  groupApprovals,
  isLive,
  openQuestions,
  parseArguments,
  sameJson,
  subtreeOf,
  Timeline,
  tokensOf,
  type Changed,
  type TreeFilter,
} from "./model";

const TOKEN_KEY = "agent-kernel.console.token";
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const clipText = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const errorText = (err: unknown) => (err instanceof KernelApiError ? `${err.message}${err.status ? ` (${err.status} ${err.code})` : ""}` : err instanceof Error ? err.message : String(err));

let client: KernelClient;
let token = "";
const state = emptyState();
let cursor = new FeedCursor();
let feedAbort: AbortController | null = null;
const filter: TreeFilter = { state: "", agent: "" };
/** The current view's teardown (streams to stop). */
let leaveView: (() => void) | null = null;
/** Re-renders of the current view, by what changed. */
let onChange: ((what: Changed) => void) | null = null;

// ---------- sign in ----------

async function signIn(candidate: string): Promise<string | null> {
  const c = createClient({ baseUrl: location.origin, token: candidate });
  try {
    await c.procs.list({ limit: 1 });
  } catch (err) {
    return errorText(err);
  }
  token = candidate;
  client = c;
  sessionStorage.setItem(TOKEN_KEY, candidate);
  return null;
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  token = "";
  feedAbort?.abort();
  leaveView?.();
  leaveView = null;
  state.procs.clear();
  state.tasks.clear();
  state.approvals.clear();
  state.audit.length = 0;
  cursor = new FeedCursor();
  $("view").replaceChildren();
  for (const id of ["nav", "conn", "signout"]) $(id).hidden = true;
  $("login").hidden = false;
  setText($("login-error"), message);
  $<HTMLInputElement>("token").value = "";
  $("token").focus();
}

async function start() {
  $("login").hidden = true;
  for (const id of ["nav", "conn", "signout"]) $(id).hidden = false;
  // The first picture: lists; then the feed keeps it current (its backlog is applied too: rows newer win).
  const [procs, approvals, tasks] = await Promise.all([
    collect(client.procs.all()),
    collect(client.approvals.all({ state: "pending" })),
    collect(client.tasks.all()),
  ]).catch((err) => {
    setText($("conn-text"), `cannot load: ${errorText(err)}`);
    return [[], [], []] as const;
  });
  for (const p of procs) applyFeedEvent(state, { id: undefined, event: "proc", data: { process: p } });
  for (const a of approvals) applyFeedEvent(state, { id: undefined, event: "approval", data: { approval: a } });
  for (const t of tasks) applyFeedEvent(state, { id: undefined, event: "task", data: { task: t } });
  void runFeed();
  route();
}

async function collect<T>(it: AsyncGenerator<T>, max = 5000): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length >= max) break;
  }
  return out;
}

// ---------- the tenant feed ----------

function showConn() {
  const conn = $("conn");
  conn.dataset.status = cursor.status;
  const last = cursor.lastEventId ? ` · event ${cursor.lastEventId}` : "";
  setText($("conn-text"), `${cursor.status === "live" ? "live" : cursor.status === "reconnecting" ? "reconnecting…" : cursor.status}${last}`);
}

async function runFeed() {
  feedAbort?.abort();
  const abort = new AbortController();
  feedAbort = abort;
  await followFeed({
    baseUrl: location.origin,
    token,
    cursor,
    signal: abort.signal,
    onEvent: (e) => {
      const what = applyFeedEvent(state, e);
      if (what) changed(what);
      showConnSoon();
    },
    onStatus: showConn,
    onUnauthorized: () => signOut("The token was refused (expired?): paste a new one."),
  });
}

let connTimer = 0;
function showConnSoon() {
  if (connTimer) return;
  connTimer = window.setTimeout(() => {
    connTimer = 0;
    showConn();
  }, 250);
}

/** Batches re-renders to one per frame, however many events arrive. */
const pending = new Set<Changed>();
let frame = 0;
function changed(what: Changed) {
  pending.add(what);
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const batch = [...pending];
    pending.clear();
    updateBadge();
    for (const w of batch) onChange?.(w);
  });
}

function updateBadge() {
  const n = groupApprovals(state.approvals.values(), state.procs).reduce((s, g) => s + g.approvals.length, 0) + openQuestions(state.tasks.values(), state.procs).length;
  const badge = $("inbox-count");
  setText(badge, String(n));
  badge.classList.toggle("hot", n > 0);
}

// ---------- routing ----------

function route() {
  if (!token) return;
  leaveView?.();
  leaveView = null;
  onChange = null;
  const hash = location.hash || "#/procs";
  const m = /^#\/procs\/(\d+)$/.exec(hash);
  const view = m ? "procs" : hash.startsWith("#/approvals") ? "approvals" : hash.startsWith("#/audit") ? "audit" : "procs";
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) setAttr(a, "aria-current", a.dataset.view === view ? "page" : null);
  const root = $("view");
  root.replaceChildren();
  if (m) processView(root, Number(m[1]));
  else if (view === "approvals") inboxView(root);
  else if (view === "audit") auditView(root);
  else treeView(root);
  updateBadge();
}

// ---------- the process tree ----------

const STATES = ["", "live", "created", "running", "sleeping", "paused", "zombie", "stopped"] as const;

function treeView(root: HTMLElement) {
  const stateSel = h("select", { id: "f-state", onchange: () => { filter.state = stateSel.value as TreeFilter["state"]; render(); } }, ...STATES.map((s) => h("option", { value: s, selected: filter.state === s }, s === "" ? "any" : s)));
  const agentSel = h("select", { id: "f-agent", onchange: () => { filter.agent = agentSel.value; render(); } });
  const summary = h("p", { class: "muted num", id: "tree-summary", "aria-live": "polite" });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "tree", role: "treegrid", "aria-label": "Process tree", "aria-describedby": "tree-help" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Process"),
      h("th", { scope: "col" }, "State"),
      h("th", { scope: "col", class: "n turns" }, "Turns"),
      h("th", { scope: "col", class: "n tokens" }, "Tokens"),
      h("th", { scope: "col", class: "n calls" }, "Tool calls"),
      h("th", { scope: "col", class: "wide" }, "Budget: tokens"),
      h("th", { scope: "col", class: "wide" }, "Budget: tool calls"),
      h("th", { scope: "col", class: "n wide" }, "Subtree"),
    )),
    tbody,
  );
  append(
    root,
    h("section", { class: "panel", "aria-labelledby": "tree-title" },
      h("h2", { id: "tree-title" }, "Processes"),
      h("div", { class: "row" }, h("div", {}, h("label", { for: "f-state" }, "State"), stateSel), h("div", {}, h("label", { for: "f-agent" }, "Agent"), agentSel)),
      summary,
      h("p", { id: "tree-help", class: "muted" }, "Tokens and tool calls: the process's own, then its subtree's (Σ). Arrow keys move between processes, Enter opens one."),
      h("div", { class: "scroll" }, table),
    ),
  );

  const rows = new Map<number, HTMLTableRowElement>();
  let focusPid: number | null = null;

  function open(pid: number) {
    location.hash = `#/procs/${pid}`;
  }

  function rowFor(p: Process): HTMLTableRowElement {
    let tr = rows.get(p.pid);
    if (tr) return tr;
    const classes = ["proc", "", "n turns", "n tokens", "n calls", "wide", "wide", "n wide"];
    const cells = classes.map((c) => h("td", { class: c }));
    tr = h("tr", { role: "row", tabindex: -1, "data-pid": p.pid }, ...cells);
    const pid = p.pid;
    tr.addEventListener("click", () => open(pid));
    tr.addEventListener("focus", () => {
      focusPid = pid;
      for (const [other, row] of rows) setAttr(row, "tabindex", other === pid ? "0" : "-1");
    });
    tr.addEventListener("keydown", (e) => {
      const list = [...tbody.rows];
      const i = list.indexOf(tr!);
      const go = (j: number) => list[Math.max(0, Math.min(list.length - 1, j))]?.focus();
      if (e.key === "Enter" || e.key === " ") open(pid);
      else if (e.key === "ArrowDown") go(i + 1);
      else if (e.key === "ArrowUp") go(i - 1);
      else if (e.key === "Home") go(0);
      else if (e.key === "End") go(list.length - 1);
      else return;
      e.preventDefault();
    });
    rows.set(p.pid, tr);
    return tr;
  }

  function render() {
    const agents = agentsOf(state.procs);
    const wanted = ["", ...agents];
    if ([...agentSel.options].map((o) => o.value).join("\n") !== wanted.join("\n")) {
      agentSel.replaceChildren(...wanted.map((a) => h("option", { value: a, selected: filter.agent === a }, a === "" ? "any" : a)));
    }
    const tree = buildTree(state.procs, filter);
    const live = [...state.procs.values()].filter((p) => isLive(p.state)).length;
    setText(summary, `${state.procs.size} processes, ${live} live${filter.state || filter.agent ? `; ${tree.filter((r) => r.matches).length} match the filter` : ""}`);
    const keep = new Set<number>();
    let next: ChildNode | null = tbody.firstChild;
    const active = document.activeElement;
    for (const row of tree) {
      const p = row.process;
      keep.add(p.pid);
      const tr = rowFor(p);
      const [c0, c1, c2, c3, c4, c5, c6, c7] = [...tr.cells] as HTMLTableCellElement[];
      setAttr(tr, "aria-level", String(row.level));
      setAttr(tr, "aria-expanded", row.childCount ? "true" : null);
      setAttr(tr, "aria-label", `process ${p.pid} ${p.agent}, ${p.state}`);
      tr.classList.toggle("context", !row.matches);
      const label = `${row.level > 1 ? "└ " : ""}#${p.pid} ${p.agent}`;
      if (c0!.dataset.label !== label) {
        c0!.dataset.label = label;
        c0!.style.paddingLeft = `${8 + (row.level - 1) * 18}px`;
        c0!.replaceChildren(h("span", { class: "twig", "aria-hidden": "true" }, row.level > 1 ? "└ " : ""), h("span", { class: "pid" }, `#${p.pid}`), " ", h("span", { class: "name" }, p.agent));
      }
      if (c1!.dataset.state !== p.state) {
        c1!.dataset.state = p.state;
        c1!.replaceChildren(h("span", { class: `state state-${p.state}` }, p.state));
      }
      setText(c2!, String(p.turnCount));
      setText(c3!, row.childCount ? `${formatCount(tokensOf(p))} · Σ ${formatCount(row.rollup.tokens)}` : formatCount(tokensOf(p)));
      setText(c4!, row.childCount ? `${formatCount(p.usage.toolCalls)} · Σ ${formatCount(row.rollup.toolCalls)}` : formatCount(p.usage.toolCalls));
      budgetCell(c5!, budgetOf(p.budget.used.tokens, p.budget.limit.tokens));
      budgetCell(c6!, budgetOf(p.budget.used.toolCalls, p.budget.limit.toolCalls));
      setText(c7!, `${row.rollup.count} · ${row.rollup.live} live`);
      if (next === tr) next = tr.nextSibling;
      else {
        // Moving a focused row would blur it: give the focus back.
        const hadFocus = active === tr;
        tbody.insertBefore(tr, next);
        if (hadFocus) tr.focus();
      }
    }
    for (const [pid, tr] of rows) {
      if (keep.has(pid)) continue;
      tr.remove();
      rows.delete(pid);
    }
    // Exactly one row is in the tab order (the focused one, else the first).
    const target = focusPid !== null && rows.has(focusPid) ? focusPid : tree[0]?.process.pid;
    for (const [pid, tr] of rows) setAttr(tr, "tabindex", pid === target ? "0" : "-1");
  }

  render();
  onChange = (what) => {
    if (what === "procs") render();
  };
}

function budgetCell(td: HTMLTableCellElement, b: { text: string; fraction: number | null }) {
  const key = `${b.text}|${b.fraction}`;
  if (td.dataset.key === key) return;
  td.dataset.key = key;
  td.replaceChildren(
    h("span", { class: "budget num" }, b.fraction === null ? h("span", { class: "muted" }, "no limit") : h("meter", { min: 0, max: 1, value: b.fraction, high: 0.8, optimum: 0, "aria-hidden": "true" }), h("span", {}, b.text)),
  );
}

// ---------- a process ----------

function processView(root: HTMLElement, pid: number) {
  const stop = new AbortController();
  const title = h("h2", { id: "proc-title" }, `Process #${pid}`);
  const facts = h("dl", { class: "facts num" });
  const actionStatus = h("p", { class: "status-line", role: "status", "aria-live": "polite" });
  const actionError = h("p", { class: "error", role: "alert" });
  const timeline = new Timeline();
  const timelineList = h("ol", { class: "timeline", "aria-label": "Events", "aria-live": "off" });
  const timelineItems = new Map<string, HTMLLIElement>();
  const tasksBody = h("tbody");
  const toolsList = h("ul", { class: "chips", "aria-label": "Effective tools" });
  const fsList = h("ul", { class: "chips", "aria-label": "File system scopes" });
  const convo = h("ol", { class: "messages", "aria-label": "Conversation" });
  const moreBtn = h("button", { type: "button", class: "secondary" }, "Load more messages");
  const convoStatus = h("p", { class: "muted" });

  const act = (label: string, run: () => Promise<unknown>, describe: (r: unknown) => string, cls = "") =>
    h("button", {
      type: "button",
      class: cls,
      "data-action": label.toLowerCase(),
      onclick: async (e: Event) => {
        const btn = e.currentTarget as HTMLButtonElement;
        btn.disabled = true;
        setText(actionError, "");
        setText(actionStatus, `${label}…`);
        try {
          const r = await run();
          setText(actionStatus, describe(r));
          refresh();
        } catch (err) {
          setText(actionStatus, "");
          setText(actionError, `${label} refused: ${errorText(err)}`);
        } finally {
          btn.disabled = false;
        }
      },
    }, label);

  const killConfirm = h("span", { class: "toolbar", hidden: true });
  const killBtn = h("button", { type: "button", class: "danger", "data-action": "kill", onclick: () => {
    const n = subtreeOf(state.procs, pid).length;
    killConfirm.replaceChildren(
      h("span", {}, `Kill #${pid}${n > 1 ? ` and ${n - 1} descendant${n > 2 ? "s" : ""}` : ""}?`),
      act("Confirm kill", () => client.procs.kill(pid, { cascade: true, reason: "killed from the console" }), (r) => {
        const k = r as { killed: number[]; alreadyExited: number[] };
        killConfirm.hidden = true;
        return `Killed ${k.killed.length ? k.killed.map((p) => `#${p}`).join(", ") : "nothing"}${k.alreadyExited.length ? ` (already exited: ${k.alreadyExited.map((p) => `#${p}`).join(", ")})` : ""}.`;
      }, "danger"),
      h("button", { type: "button", class: "secondary", onclick: () => { killConfirm.hidden = true; killBtn.focus(); } }, "Cancel"),
    );
    killConfirm.hidden = false;
    (killConfirm.querySelector("button") as HTMLButtonElement).focus();
  } }, "Kill subtree…");

  append(
    root,
    h("p", {}, h("a", { href: "#/procs" }, "← All processes")),
    h("section", { class: "panel", "aria-labelledby": "proc-title" },
      title,
      facts,
      h("div", { class: "toolbar", role: "group", "aria-label": "Process controls" },
        act("Pause", () => client.procs.pause(pid), (r) => `Paused (state ${(r as { state: string }).state}).`),
        act("Resume", () => client.procs.resume(pid), (r) => `Resumed (state ${(r as { state: string }).state}).`),
        act("Step", () => client.procs.step(pid), (r) => `Stepped: turn ${(r as Process).turnCount}, state ${(r as Process).state}.`),
        act("Checkpoint", () => client.procs.checkpoint(pid), (r) => `Checkpoint ${short(String((r as { checkpointId?: string }).checkpointId ?? JSON.stringify(r)), 16)} saved.`),
        killBtn,
        killConfirm,
      ),
      actionStatus,
      actionError,
    ),
    h("div", { class: "grid" },
      h("section", { class: "panel", "aria-labelledby": "tl-title" }, h("h2", { id: "tl-title" }, "Timeline"), timelineList),
      h("div", {},
        h("section", { class: "panel", "aria-labelledby": "tasks-title" },
          h("h2", { id: "tasks-title" }, "Tasks"),
          h("div", { class: "scroll" }, h("table", { class: "tasks" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Task"), h("th", { scope: "col" }, "Worker"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Result"))), tasksBody)),
        ),
        h("section", { class: "panel", "aria-labelledby": "rights-title" }, h("h2", { id: "rights-title" }, "Tools and file scopes"), h("h3", {}, "Effective tools"), toolsList, h("h3", {}, "File system"), fsList),
      ),
    ),
    h("section", { class: "panel", "aria-labelledby": "convo-title" }, h("h2", { id: "convo-title" }, "Conversation"), convo, convoStatus, moreBtn),
  );

  function renderFacts() {
    const p = state.procs.get(pid);
    if (!p) return;
    setText(title, `Process #${p.pid} · ${p.agent}`);
    const rows: [string, string][] = [
      ["State", p.state + (p.exit ? ` (exit ${p.exit.code}: ${p.exit.reason})` : "")],
      ["Parent", p.parentPid === null ? "none (top level)" : `#${p.parentPid}`],
      ["Mode", p.mode],
      ["Turns", String(p.turnCount)],
      ["Tokens", `${formatCount(tokensOf(p))} (in ${formatCount(p.usage.inputTokens)}, out ${formatCount(p.usage.outputTokens)})`],
      ["Tool calls", String(p.usage.toolCalls)],
      ["Budget", `tokens ${budgetOf(p.budget.used.tokens, p.budget.limit.tokens).text}, tool calls ${budgetOf(p.budget.used.toolCalls, p.budget.limit.toolCalls).text}`],
      ["Result", p.result ?? "—"],
      ...(p.pendingInput ? [["Asks", p.pendingInput.question] as [string, string]] : []),
    ];
    const key = JSON.stringify(rows);
    if (facts.dataset.key !== key) {
      facts.dataset.key = key;
      facts.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    }
    const tools = p.tools.join("\n");
    if (toolsList.dataset.key !== tools) {
      toolsList.dataset.key = tools;
      toolsList.replaceChildren(...(p.tools.length ? p.tools.map((t) => h("li", {}, t)) : [h("li", {}, "none")]));
    }
    const fs = JSON.stringify(p.fs);
    if (fsList.dataset.key !== fs) {
      fsList.dataset.key = fs;
      fsList.replaceChildren(...(p.fs.length ? p.fs.map((s) => h("li", {}, `${s.mode} ${s.path}`)) : [h("li", {}, "no file access")]));
    }
  }

  function renderTasks() {
    const p = state.procs.get(pid);
    const mine = [...state.tasks.values()].filter((t) => t.metadata.copilotPid === pid || t.id === p?.taskId).sort((a, b) => a.metadata.workerPid - b.metadata.workerPid);
    tasksBody.replaceChildren(
      ...(mine.length
        ? mine.map((t) => {
            const result = t.artifacts.flatMap((a) => a.parts.map((x) => x.text)).join("\n") || t.status.message || "";
            return h("tr", { "data-task": t.id },
              h("td", { class: "mono" }, short(t.id)),
              h("td", {}, h("a", { href: `#/procs/${t.metadata.workerPid}` }, `#${t.metadata.workerPid} ${t.metadata.agent}`)),
              h("td", {}, h("span", { class: `state` }, t.status.state)),
              h("td", { style: "white-space: pre-wrap" }, result.length > 400 ? `${result.slice(0, 399)}…` : result),
            );
          })
        : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No tasks."))]),
    );
  }

  function renderTimeline() {
    const atBottom = timelineList.scrollTop + timelineList.clientHeight >= timelineList.scrollHeight - 8;
    const keep = new Set<string>();
    for (const item of timeline.items) {
      keep.add(item.key);
      let li = timelineItems.get(item.key);
      if (!li) {
        li = h("li", {}, h("span", { class: "seq" }), h("span", { class: "type" }), h("span", { class: "what" }));
        li.title = item.at;
        timelineItems.set(item.key, li);
        timelineList.append(li);
      }
      li.classList.toggle("streaming", item.streaming);
      li.dataset.type = item.type;
      const [seq, type, what] = [...li.children] as HTMLElement[];
      setText(seq!, item.seq === null ? "…" : String(item.seq));
      setText(type!, item.type);
      setText(what!, item.summary);
    }
    for (const [key, li] of timelineItems) if (!keep.has(key)) { li.remove(); timelineItems.delete(key); }
    if (atBottom) timelineList.scrollTop = timelineList.scrollHeight;
  }

  async function follow() {
    try {
      for await (const e of client.procs.events(pid, { signal: stop.signal, ...(timeline.lastEventId ? { lastEventId: timeline.lastEventId } : {}) })) {
        if (timeline.apply({ id: e.id, event: e.event, data: e.data })) renderTimeline();
      }
    } catch (err) {
      if (!stop.signal.aborted) append(timelineList, h("li", {}, h("span", {}), h("span", { class: "type" }, "error"), h("span", { class: "what" }, errorText(err))));
    }
  }

  let convoCursor: string | undefined;
  async function loadMessages() {
    moreBtn.disabled = true;
    try {
      const page = await client.procs.messages(pid, { limit: 20, ...(convoCursor ? { cursor: convoCursor } : {}) });
      for (const m of page.messages) {
        const body = m.role === "assistant" && m.toolCalls?.length ? `${m.content}${m.content ? "\n" : ""}${m.toolCalls.map((c) => `→ ${c.name} ${JSON.stringify(c.arguments)}`).join("\n")}` : m.content;
        const label = m.role === "tool" ? `tool ${m.name}${m.isError ? " (error)" : ""}` : m.role;
        convo.append(h("li", { "data-role": m.role }, h("span", { class: "role" }, label), body));
      }
      convoCursor = page.nextCursor ?? undefined;
      moreBtn.hidden = page.nextCursor === null;
      setText(convoStatus, convo.children.length ? "" : "No messages yet.");
    } catch (err) {
      setText(convoStatus, `Cannot load the conversation: ${errorText(err)}`);
    } finally {
      moreBtn.disabled = false;
    }
  }
  moreBtn.addEventListener("click", () => void loadMessages());

  function refresh() {
    client.procs.get(pid).then((p) => {
      applyFeedEvent(state, { id: undefined, event: "proc", data: { process: p } });
      renderFacts();
      renderTasks();
    }, (err) => setText(actionError, errorText(err)));
  }

  refresh();
  renderFacts();
  renderTasks();
  void loadMessages();
  void follow();
  client.tasks.list({ copilotPid: pid, limit: 1000 }).then((r) => {
    for (const t of r.tasks) applyFeedEvent(state, { id: undefined, event: "task", data: { task: t } });
    renderTasks();
  }, () => {});
  onChange = (what) => {
    if (what === "procs") renderFacts();
    if (what === "tasks" || what === "procs") renderTasks();
  };
  leaveView = () => stop.abort();
  title.setAttribute("tabindex", "-1");
  title.focus();
}

// ---------- the inbox: approvals and questions ----------

function inboxView(root: HTMLElement) {
  const approvalsBox = h("div", { id: "approvals" });
  const questionsBox = h("div", { id: "questions" });
  const canDecide = h("p", { class: "muted" }, "Deciding needs an operator or admin token; a viewer sees the API's refusal.");
  append(
    root,
    h("section", { class: "panel", "aria-labelledby": "ap-title" }, h("h2", { id: "ap-title" }, "Approvals waiting"), canDecide, approvalsBox),
    h("section", { class: "panel", "aria-labelledby": "q-title" }, h("h2", { id: "q-title" }, "Questions waiting for a reply"), questionsBox),
  );
  const cards = new Map<string, HTMLElement>();
  const groupsEl = new Map<number, HTMLElement>();

  function approvalCard(a: import("../../src/client/index").Approval): HTMLElement {
    const argsId = `args-${a.id}`;
    const msgId = `msg-${a.id}`;
    const args = h("textarea", { id: argsId, spellcheck: false, rows: 4 });
    args.value = JSON.stringify(a.arguments, null, 2);
    const msg = h("input", { id: msgId, type: "text", placeholder: "optional; the model sees a rejection's message" });
    const err = h("p", { class: "error", role: "alert" });
    const decide = async (decision: "approve" | "reject", btn: HTMLButtonElement) => {
      setText(err, "");
      let edited: Record<string, unknown> | undefined;
      if (decision === "approve") {
        const parsed = parseArguments(args.value);
        if (!parsed.ok) {
          setText(err, parsed.message);
          args.focus();
          return;
        }
        if (!sameJson(parsed.value, a.arguments)) edited = parsed.value;
      }
      btn.disabled = true;
      try {
        const message = msg.value.trim();
        const decided = decision === "approve" ? await client.approvals.approve(a.id, { ...(message ? { message } : {}), ...(edited ? { arguments: edited } : {}) }) : await client.approvals.reject(a.id, message || undefined);
        applyFeedEvent(state, { id: undefined, event: "approval", data: { approval: decided } });
        changed("approvals");
      } catch (e) {
        setText(err, `${decision === "approve" ? "Approve" : "Reject"} refused: ${errorText(e)}`);
      } finally {
        btn.disabled = false;
      }
    };
    const approveBtn: HTMLButtonElement = h("button", { type: "button", "data-action": "approve", onclick: () => void decide("approve", approveBtn) }, "Approve");
    const rejectBtn: HTMLButtonElement = h("button", { type: "button", class: "danger", "data-action": "reject", onclick: () => void decide("reject", rejectBtn) }, "Reject");
    return h("article", { class: "card", "data-approval": a.id, "aria-labelledby": `h-${a.id}` },
      h("h4", { id: `h-${a.id}` }, `${a.tool} `, h("span", { class: "muted" }, "by "), h("a", { href: `#/procs/${a.pid}` }, `#${a.pid} ${a.agent}`)),
      h("p", { class: "kv" }, `${a.reason} · hook ${a.hook} · asked ${time(a.createdAt)} · expires ${new Date(a.expiresAt).toLocaleString("en-GB")}`),
      h("label", { for: argsId }, "Arguments (JSON; edit to approve with different ones)"),
      args,
      h("label", { for: msgId }, "Message"),
      msg,
      h("div", { class: "toolbar" }, approveBtn, rejectBtn),
      err,
    );
  }

  function renderApprovals() {
    const groups = groupApprovals(state.approvals.values(), state.procs);
    const live = new Set<string>();
    const liveGroups = new Set<number>();
    for (const g of groups) {
      liveGroups.add(g.rootPid);
      let section = groupsEl.get(g.rootPid);
      if (!section) {
        section = h("section", { class: "group", "data-root": g.rootPid, "aria-label": `Tree of #${g.rootPid}` }, h("h3", {}));
        groupsEl.set(g.rootPid, section);
      }
      approvalsBox.append(section);
      setText(section.firstElementChild!, `Tree #${g.rootPid}${g.rootAgent ? ` ${g.rootAgent}` : ""} · ${g.approvals.length} waiting`);
      for (const a of g.approvals) {
        live.add(a.id);
        let card = cards.get(a.id);
        if (!card) {
          card = approvalCard(a);
          cards.set(a.id, card);
        }
        if (card.parentElement !== section) section.append(card);
      }
    }
    for (const [id, card] of cards) if (!live.has(id)) { card.remove(); cards.delete(id); }
    for (const [rootPid, section] of groupsEl) if (!liveGroups.has(rootPid)) { section.remove(); groupsEl.delete(rootPid); }
    let empty = approvalsBox.querySelector<HTMLElement>(".empty");
    if (!groups.length && !empty) approvalsBox.append((empty = h("p", { class: "empty muted" }, "Nothing waiting.")));
    if (groups.length && empty) empty.remove();
  }

  const qCards = new Map<string, HTMLElement>();
  function renderQuestions() {
    const qs = openQuestions(state.tasks.values(), state.procs);
    const live = new Set(qs.map((q) => q.key));
    for (const q of qs) {
      if (qCards.has(q.key)) continue;
      const inputId = `answer-${q.key.replace(/[^a-z0-9]/gi, "-")}`;
      const answer = h("input", { id: inputId, type: "text", required: true });
      const err = h("p", { class: "error", role: "alert" });
      const form = h("form", { class: "card", "data-question": q.key, "aria-label": `Question of #${q.pid}` },
        h("h4", {}, h("a", { href: `#/procs/${q.pid}` }, `#${q.pid} ${q.agent}`), ` asks${q.kind === "task" ? ` (task ${short(q.taskId)}${q.copilotPid !== null ? ` of #${q.copilotPid}` : ""})` : ""}:`),
        h("p", {}, q.question),
        h("label", { for: inputId }, "Your answer"),
        answer,
        h("div", { class: "toolbar" }, h("button", { type: "submit" }, "Reply")),
        err,
      );
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        setText(err, "");
        const text = answer.value.trim();
        if (!text) {
          setText(err, "Type an answer first.");
          return;
        }
        try {
          if (q.kind === "task") await client.tasks.reply(q.taskId, text);
          else await client.procs.message(q.pid, text);
          form.remove();
          qCards.delete(q.key);
        } catch (x) {
          setText(err, `Reply refused: ${errorText(x)}`);
        }
      });
      qCards.set(q.key, form);
      questionsBox.append(form);
    }
    for (const [key, card] of qCards) if (!live.has(key)) { card.remove(); qCards.delete(key); }
    let empty = questionsBox.querySelector<HTMLElement>(".empty");
    if (!qs.length && !empty) questionsBox.append((empty = h("p", { class: "empty muted" }, "No open questions.")));
    if (qs.length && empty) empty.remove();
  }

  renderApprovals();
  renderQuestions();
  // The list is refreshed on entry (decisions made elsewhere while the feed was behind).
  collect(client.approvals.all({ state: "pending" })).then((list) => {
    for (const a of list) applyFeedEvent(state, { id: undefined, event: "approval", data: { approval: a } });
    renderApprovals();
  }, () => {});
  onChange = (what) => {
    if (what === "approvals" || what === "procs") renderApprovals();
    if (what === "tasks" || what === "procs") renderQuestions();
  };
}

// ---------- audit ----------

function auditView(root: HTMLElement) {
  const tbody = h("tbody");
  const verdict = h("p", { role: "status", "aria-live": "polite", class: "status-line" });
  const head = h("p", { class: "head" });
  const pageInfo = h("span", { class: "muted num" });
  const latest = h("p", { class: "muted num", "aria-live": "off" });
  const pages: (string | undefined)[] = [undefined];
  let index = 0;
  let nextCursor: string | null = null;
  const prevBtn = h("button", { type: "button", class: "secondary", onclick: () => { if (index > 0) { index--; void load(); } } }, "← Earlier");
  const nextBtn = h("button", { type: "button", class: "secondary", onclick: () => { if (nextCursor) { pages[index + 1] = nextCursor; index++; void load(); } } }, "Later →");
  const verifyBtn = h("button", { type: "button", "data-action": "verify", onclick: () => void verify(false) }, "Verify");
  const fullBtn = h("button", { type: "button", class: "secondary", onclick: () => void verify(true) }, "Verify the whole chain");

  append(
    root,
    h("section", { class: "panel", "aria-labelledby": "audit-title" },
      h("h2", { id: "audit-title" }, "Audit log"),
      h("div", { class: "toolbar" }, verifyBtn, fullBtn),
      verdict,
      h("h3", {}, "Head hash"),
      head,
      latest,
      h("div", { class: "toolbar" }, prevBtn, nextBtn, pageInfo),
      h("div", { class: "scroll" }, h("table", { class: "audit" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "n" }, "Seq"), h("th", { scope: "col" }, "Time"), h("th", { scope: "col" }, "Event"), h("th", { scope: "col" }, "Actor"), h("th", { scope: "col", class: "n" }, "Pid"), h("th", { scope: "col", class: "wide" }, "Data"), h("th", { scope: "col", class: "wide" }, "Hash"))),
        tbody,
      )),
    ),
  );

  async function verify(full: boolean) {
    setText(verdict, "Verifying…");
    verdict.className = "status-line";
    try {
      const v = await client.audit.verify({ full });
      verdict.className = `status-line ${v.ok ? "verdict-ok" : "verdict-bad"}`;
      setText(verdict, v.ok ? `Chain verified: ${v.entries} entries checked${full ? " (whole chain)" : ""}.` : `Chain BROKEN at entry ${v.brokenAt ?? "?"} (${v.entries} checked).`);
      setText(head, v.head || "(empty log)");
    } catch (err) {
      verdict.className = "status-line verdict-bad";
      setText(verdict, `Verify refused: ${errorText(err)}`);
    }
  }

  async function load() {
    try {
      const cursor = pages[index];
      const page = await client.audit.list({ limit: 50, ...(cursor ? { cursor } : {}) });
      nextCursor = page.nextCursor;
      prevBtn.disabled = index === 0;
      nextBtn.disabled = !nextCursor;
      const first = page.entries[0]?.seq;
      const last = page.entries[page.entries.length - 1]?.seq;
      setText(pageInfo, page.entries.length ? `entries ${first}–${last}` : "no entries");
      tbody.replaceChildren(...page.entries.map(auditRow));
    } catch (err) {
      setText(pageInfo, `Cannot load: ${errorText(err)}`);
    }
  }

  function auditRow(e: import("../../src/client/index").AuditEntry) {
    return h("tr", { "data-seq": e.seq, title: JSON.stringify(e.data) },
      h("td", { class: "n" }, String(e.seq)),
      h("td", { class: "num" }, time(e.at)),
      h("td", {}, e.event),
      h("td", {}, e.actor),
      h("td", { class: "n" }, e.pid === undefined ? "" : String(e.pid)),
      h("td", { class: "data wide" }, clipText(JSON.stringify(e.data), 90)),
      h("td", { class: "hash wide" }, short(e.hash, 16)),
    );
  }

  function renderLatest() {
    const last = state.audit[state.audit.length - 1];
    setText(latest, last ? `Latest entry seen live: #${last.seq} ${last.event}, hash ${short(last.hash, 16)}…` : "");
    // On the last page, new entries are appended as they come.
    if (!nextCursor && last) {
      const shown = Number(tbody.lastElementChild?.getAttribute("data-seq") ?? 0);
      for (const e of state.audit) if (e.seq > shown && tbody.rows.length < 50) tbody.append(auditRow(e));
    }
  }

  void load();
  void verify(false);
  renderLatest();
  onChange = (what) => {
    if (what === "audit") renderLatest();
  };
}

// ---------- boot ----------

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const value = $<HTMLInputElement>("token").value.trim().replace(/^Bearer\s+/i, "");
  if (!value) return;
  setText($("login-error"), "Checking…");
  const problem = await signIn(value);
  if (problem) {
    setText($("login-error"), `That token was refused: ${problem}`);
    return;
  }
  setText($("login-error"), "");
  void start();
});
$("signout").addEventListener("click", () => signOut());
window.addEventListener("hashchange", () => {
  route();
  // A view that puts the focus somewhere (a process's title) keeps it; else the main region takes it.
  if (!$("view").contains(document.activeElement)) $("main").focus({ preventScroll: true });
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  void signIn(saved).then((problem) => (problem ? signOut(`The saved token was refused: ${problem}`) : start()));
} else {
  $("token").focus();
}
