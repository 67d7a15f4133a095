/**
 * The hook chain (SPEC §8) without any Durable Object code: the kernel stores the chain and
 * decides when events happen; this module decides what the hooks say about them.
 *
 * - `policy` hooks are declarative rule sets evaluated in memory (first matching rule decides).
 * - `webhook` hooks are HTTP POSTs, signed, with a timeout and a fail mode.
 * - The built-in `audit` hook is the kernel's own audit log and never reaches this module.
 *
 * Nothing here throws for a misbehaving hook: failures become vetoes (pre_* events, fail-closed),
 * allows (fail-open) or warnings, and webhook secrets never appear in any of their messages.
 *
 * Webhook URLs are checked again right before every call (src/lib/net.ts): a hook stored before
 * the operator's ALLOW_PRIVATE_HOSTS changed is not called once its host is refused.
 */
import type { z } from "zod";
import { ASK_TIMEOUT_DEFAULT_MS, type HookContext, type HookEvent, type HookSpec, type HookVerdict, type PolicyRule, type Warning, type WebhookHookSpec } from "../contracts";
import { globMatch } from "../lib/glob";
import { checkOutboundUrl } from "../lib/net";
import { hmacSha256, toHex } from "../lib/hmac";
import { redact } from "../lib/redact";

export type PolicyHook = { name: string; rules: readonly PolicyRule[] };
/** A webhook hook as stored; `timeoutMs` and `failMode` fall back to the schema's defaults. */
export type WebhookHook = Omit<z.infer<typeof WebhookHookSpec>, "timeoutMs" | "failMode" | "kind"> & {
  name: string;
  timeoutMs?: number;
  failMode?: "open" | "closed";
};

const DEFAULT_TIMEOUT_MS = 2000;
/** Enough for `{"allow": false, "reason": "..."}` with a long reason; anything longer is not read. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_REASON_LENGTH = 1000;

export const isPreEvent = (event: HookEvent): boolean => event.startsWith("pre_");

// ---------------------------------------------------------------------------------------------
// Policy hooks
// ---------------------------------------------------------------------------------------------

/**
 * The first rule for `ctx.event` whose every `match` glob matches decides: `deny` vetoes,
 * `allow` explicitly allows (no later rule of this hook is looked at), `ask` (pre_dispatch only)
 * holds the call for a person's decision. No matching rule: `null`, the hook has no opinion. A glob on a field the context lacks never matches (a `path` rule does
 * not match a tool call without paths); `path` matches when any of the context's paths does.
 */
export function evaluatePolicy(hook: PolicyHook, ctx: HookContext): HookVerdict | null {
  for (const rule of hook.rules) {
    if (rule.event !== ctx.event || !ruleMatches(rule, ctx)) continue;
    if (rule.action === "allow") return { allow: true };
    // The contract refuses `ask` on any other event; a rule that got past it fails closed.
    if (rule.action === "ask" && ctx.event === "pre_dispatch") {
      return { allow: "ask", hook: hook.name, reason: rule.reason ?? `Policy hook "${hook.name}" asks a person to approve calling tool "${ctx.tool ?? "?"}".`, timeoutMs: rule.timeoutMs ?? ASK_TIMEOUT_DEFAULT_MS };
    }
    return { allow: false, hook: hook.name, reason: rule.reason ?? defaultDenyReason(hook.name, ctx) };
  }
  return null;
}

function ruleMatches(rule: PolicyRule, ctx: HookContext): boolean {
  const path = rule.match?.path;
  return ruleMatchesCaller(rule, ctx) && (path === undefined || (ctx.paths ?? []).some((p) => globMatch(path, p)));
}

/** The rule's agent and tool globs, whatever its path says. */
function ruleMatchesCaller(rule: PolicyRule, ctx: HookContext): boolean {
  const { agent, tool } = rule.match ?? {};
  if (agent !== undefined && (ctx.agent === undefined || !globMatch(agent, ctx.agent))) return false;
  if (tool !== undefined && (ctx.tool === undefined || !globMatch(tool, ctx.tool))) return false;
  return true;
}

/** One policy's path rules for a call, in rule order: what it says about each path a search may return. */
export interface PathFilter {
  hook: string;
  rules: { path: string; deny: boolean }[];
}

/**
 * A search (list_dir, glob, grep) reads below the paths it names, where a policy's path rules may
 * say more than they said about the call itself. For each policy (chain order), its rules for this
 * event whose agent and tool match, up to the first one without a path (which decides every path
 * alike). Only policies that can deny something are returned; `hiddenByPolicies` applies them.
 */
export function pathFilters(hooks: readonly HookSpec[], ctx: HookContext): PathFilter[] {
  const filters: PathFilter[] = [];
  for (const hook of hooks) {
    if (hook.kind !== "policy") continue;
    const rules: PathFilter["rules"] = [];
    for (const rule of hook.rules) {
      if (rule.event !== ctx.event || !ruleMatchesCaller(rule, ctx)) continue;
      if (rule.match?.path === undefined) break;
      // An `ask` about a path is not a denial of reading below it: only `deny` hides results.
      rules.push({ path: rule.match.path, deny: rule.action === "deny" });
    }
    if (rules.some((r) => r.deny)) filters.push({ hook: hook.name, rules });
  }
  return filters;
}

/** Whether a policy would deny reading `path`: in some policy, the first rule matching it denies. */
export function hiddenByPolicies(filters: readonly PathFilter[], path: string): boolean {
  return filters.some((f) => f.rules.find((r) => globMatch(r.path, path))?.deny === true);
}

function defaultDenyReason(hookName: string, ctx: HookContext): string {
  const what =
    ctx.event === "pre_spawn"
      ? `spawning agent "${ctx.agent ?? "?"}"`
      : ctx.event === "pre_dispatch"
        ? `calling tool "${ctx.tool ?? "?"}"`
        : ctx.event;
  return `Policy hook "${hookName}" denies ${what}.`;
}

// ---------------------------------------------------------------------------------------------
// Webhook hooks
// ---------------------------------------------------------------------------------------------

/**
 * Webhook requests carry `X-Kernel-Signature: sha256=<hex>`, where `<hex>` is the lowercase hex
 * HMAC-SHA256 of the raw request body (its UTF-8 bytes, exactly as sent) keyed with the hook's
 * secret (its UTF-8 bytes). A receiver recomputes it over the body it read, before parsing it,
 * and compares in constant time.
 */
export const SIGNATURE_HEADER = "X-Kernel-Signature";

/** Lowercase hex HMAC-SHA256 of `body` keyed with `secret`. */
export async function signBody(body: string, secret: string): Promise<string> {
  return toHex(await hmacSha256(secret, body));
}

export type Fetcher = (input: string, init: RequestInit) => Promise<Response>;

/**
 * The message for a hook that could not be reached. A refused connection, a DNS failure, a reset
 * and a timeout all read the same, with no runtime error text: a tenant must not be able to use a
 * webhook to learn which ports answer on a host.
 */
export const unreachableMessage = (hookName: string) => `Webhook hook "${hookName}" is unreachable.`;

export interface WebhookOutcome {
  /** For pre_* events the hook's decision; `null` for post_* events (they cannot veto). */
  verdict: HookVerdict | null;
  /** Set when the hook failed (network error, timeout, non-2xx on a post_* event); never holds the secret. */
  error?: string;
}

/**
 * POSTs `{event, tenant, hook, at, ...context}` as JSON, signed (see `SIGNATURE_HEADER`), and
 * gives up after `timeoutMs` (covering the response body too).
 *
 * pre_* events: 2xx with `{"allow": false, "reason"?}` vetoes, any other 2xx allows; a non-2xx
 * answer vetoes, naming the status; a failure (network error, timeout, a URL that
 * `allowPrivateHosts` no longer permits) vetoes when `failMode` is "closed" and allows when "open"
 * (the default), reporting the failure in `error` either way.
 * post_* events: no verdict; a non-2xx answer or a failure is reported in `error`.
 * Network errors and timeouts give the same `unreachableMessage`, without the runtime's error text.
 */
export async function callWebhook(
  hook: WebhookHook,
  ctx: HookContext,
  fetcher: Fetcher = fetch,
  allowPrivateHosts: readonly string[] = [],
): Promise<WebhookOutcome> {
  const pre = isPreEvent(ctx.event);
  const failed = (error: string): WebhookOutcome => {
    if (!pre) return { verdict: null, error };
    if (hook.failMode === "closed") return { verdict: { allow: false, hook: hook.name, reason: error }, error };
    return { verdict: { allow: true }, error };
  };

  const allowed = checkOutboundUrl(hook.url, allowPrivateHosts);
  if (!allowed.ok) return failed(`Webhook hook "${hook.name}" was not called: its URL is not allowed. ${allowed.reason}`);

  const timeoutMs = hook.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { event, tenant, ...context } = ctx;
  let body: string;
  let signature: string;
  try {
    body = JSON.stringify({ event, tenant, hook: hook.name, at: new Date().toISOString(), ...context });
    signature = await signBody(body, hook.secret);
  } catch {
    return failed(`Webhook hook "${hook.name}" was not called: the event could not be encoded.`);
  }

  // One deadline bounds the whole exchange, headers and body: a receiver that answers promptly
  // and then trickles its body must not hold a tool call or a spawn hostage. The abort signal
  // stops the request; racing against it also covers a fetcher that ignores signals.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const deadline = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(new Error("timed out")));
  });
  const exchange = async (): Promise<{ status: number; text: string }> => {
    const res = await fetcher(hook.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [SIGNATURE_HEADER]: `sha256=${signature}`,
        "X-Kernel-Event": event,
        "X-Kernel-Hook": hook.name,
      },
      body,
      // A redirect is an answer (non-2xx), not an instruction to re-send a signed event elsewhere.
      redirect: "manual",
      signal: controller.signal,
    });
    // Only a pre_* 2xx answer has anything we need to read; anything else is discarded unread.
    if (pre && res.ok) return { status: res.status, text: await readLimited(res, MAX_RESPONSE_BYTES) };
    await res.body?.cancel().catch(() => {});
    return { status: res.status, text: "" };
  };

  let status: number;
  let text: string;
  try {
    ({ status, text } = await Promise.race([exchange(), deadline]));
  } catch {
    // Timed out or failed in the network: one message for both (see `unreachableMessage`).
    return failed(unreachableMessage(hook.name));
  } finally {
    clearTimeout(timer);
  }

  if (!pre) {
    if (status >= 200 && status < 300) return { verdict: null };
    return { verdict: null, error: `Webhook hook "${hook.name}" answered HTTP ${status}.` };
  }
  if (status < 200 || status >= 300) {
    return { verdict: { allow: false, hook: hook.name, reason: `Webhook hook "${hook.name}" answered HTTP ${status}.` } };
  }
  return { verdict: parseAnswer(hook.name, text, hook.secret) };
}

/** `{"allow": false, "reason"?: string}` vetoes; anything else (including no body) allows. */
function parseAnswer(hookName: string, text: string, secret: string): HookVerdict {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return { allow: true };
  }
  if (typeof answer !== "object" || answer === null || (answer as { allow?: unknown }).allow !== false) return { allow: true };
  const given = (answer as { reason?: unknown }).reason;
  const reason =
    typeof given === "string" && given.trim() !== ""
      ? // A receiver's reason could quote the request, secret included: it must never reach a veto reason or the audit log.
        redact(given, [secret]).slice(0, MAX_REASON_LENGTH)
      : `Webhook hook "${hookName}" denied the request.`;
  return { allow: false, hook: hookName, reason };
}

/** Reads at most `limit` bytes of the body as UTF-8 (a longer body is cut, not an error). */
async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  if (size >= limit) await reader.cancel().catch(() => {});
  const bytes = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
  }
  return new TextDecoder().decode(bytes);
}


// ---------------------------------------------------------------------------------------------
// The chain
// ---------------------------------------------------------------------------------------------

/**
 * The hooks, in chain order, that have something to say about `event`: webhooks subscribed to it,
 * and for pre_* events policies with a rule for it (a policy cannot act on a post_* event). An
 * empty result lets the kernel skip building a context on hot paths.
 */
export function hooksFor(hooks: readonly HookSpec[], event: HookEvent): HookSpec[] {
  return hooks.filter((hook) => {
    if (hook.kind === "webhook") return hook.events.includes(event);
    if (hook.kind === "policy") return isPreEvent(event) && hook.rules.some((rule) => rule.event === event);
    return false;
  });
}

const warningFor = (hookName: string, message: string): Warning => ({ severity: "degraded", component: hookName, message });

/**
 * The hooks after `afterHook` in chain order: an approved call has passed every hook up to the one
 * that asked, and only the rest still have their say. A hook no longer in the chain (removed while
 * the call waited) leaves where it stood unknown, so the whole chain runs again.
 */
export function hooksAfter(hooks: readonly HookSpec[], afterHook: string | undefined): readonly HookSpec[] {
  if (afterHook === undefined) return hooks;
  const at = hooks.findIndex((h) => h.name === afterHook);
  return at < 0 ? hooks : hooks.slice(at + 1);
}

/**
 * Runs the chain for a pre_* event in order; the first veto or `ask` stops it (the hooks after an
 * `ask` run once the call is approved: `afterHook`). A policy's explicit allow only ends that
 * policy's own evaluation: later hooks still get their say. A webhook that failed open (or closed)
 * also yields a warning, so an operator learns that a guard did not run.
 */
export async function runPreHooks(
  hooks: readonly HookSpec[],
  ctx: HookContext,
  fetcher: Fetcher = fetch,
  allowPrivateHosts: readonly string[] = [],
  opts: { afterHook?: string } = {},
): Promise<{ verdict: HookVerdict; warnings: Warning[] }> {
  const warnings: Warning[] = [];
  for (const hook of hooksFor(hooksAfter(hooks, opts.afterHook), ctx.event)) {
    const verdict =
      hook.kind === "policy"
        ? evaluatePolicy(hook, ctx)
        : await callWebhook(hook, ctx, fetcher, allowPrivateHosts).then((outcome) => {
            if (outcome.error) warnings.push(warningFor(hook.name, outcome.error));
            return outcome.verdict;
          });
    if (verdict && verdict.allow !== true) return { verdict, warnings };
  }
  return { verdict: { allow: true }, warnings };
}

/**
 * Delivers a post_* event to every subscribed webhook. They run concurrently (none can veto, so
 * order cannot change an outcome, and a slow hook must not delay the others); warnings come back
 * in chain order. Never throws.
 */
export async function runPostHooks(
  hooks: readonly HookSpec[],
  ctx: HookContext,
  fetcher: Fetcher = fetch,
  allowPrivateHosts: readonly string[] = [],
): Promise<Warning[]> {
  const webhooks = hooksFor(hooks, ctx.event).filter((hook) => hook.kind === "webhook");
  const outcomes = await Promise.all(
    // callWebhook does not throw; should it ever, the runtime's error text still stays out of the warning.
    webhooks.map((hook) => callWebhook(hook, ctx, fetcher, allowPrivateHosts).catch(() => ({ verdict: null, error: unreachableMessage(hook.name) }))),
  );
  const warnings: Warning[] = [];
  outcomes.forEach((outcome, i) => {
    if (outcome.error) warnings.push(warningFor(webhooks[i]!.name, outcome.error));
  });
  return warnings;
}
