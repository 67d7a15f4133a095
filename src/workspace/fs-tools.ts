/**
 * The file tools of SPEC §6 and the workspace's file operations, over a small synchronous store so
 * they run the same in the workspace Durable Object and in unit tests.
 *
 * Permission model (fs scopes: `{path: glob, mode: "r" | "rw"}`):
 * - read_file needs a scope matching the path (either mode); write_file, edit_file and delete_file
 *   need an `rw` scope. The check runs on the normalized path before storage is touched, so a denial
 *   writes nothing and reveals nothing about whether the file exists.
 * - list_dir, glob and grep show only readable files; a directory appears only if it holds a readable
 *   file. They answer `permission_denied` only when no scope could match anything at or under the
 *   place searched (e.g. listing `/etc` with scopes `/work/**`): that clear signal is what the audit
 *   log wants, while filtering silently lets an agent scoped to `/work/**` still list `/` and see
 *   `work/`. A directory with no readable file under it answers like one that does not exist.
 */
import { RE2JS } from "re2js";
import type { z } from "zod";
import { fail, ok, type Failure, type FsScope, type Outcome } from "../contracts";
import { FS_TOOL_ARGS, MAX_FILE_BYTES, isFsTool, type FsToolName, type FsToolOutcome } from "../contracts/tools";
import { globLiteralPrefix, globMatch, MAX_GLOB_LENGTH } from "../lib/glob";
import { fsAllows } from "../agent/capabilities";
import { baseName, collapse, dirPrefix, joinPath, normalizeFilePath, normalizePath, parentDirs } from "./paths";

export interface FileMeta {
  path: string;
  bytes: number;
}

/** Storage for one tenant's files; paths are normalized before they reach it. */
export interface FileStore {
  get(path: string): string | null;
  stat(path: string): FileMeta | null;
  put(path: string, content: string, bytes: number): void;
  /** Whether a file was deleted. */
  delete(path: string): boolean;
  /** Files below a directory prefix (it ends with `/`), in ascending path order, at most `limit` of them. */
  list(prefix: string, limit?: number): Iterable<FileMeta>;
}

/** Caps that keep one tool call from doing unbounded work or flooding the model's context. */
export const MAX_LISTED_ENTRIES = 1000;
export const MAX_GREP_SCAN_BYTES = 16 * 1024 * 1024;
export const MAX_GREP_LINE_CHARS = 500;
/**
 * grep runs on RE2 (re2js): matching is linear in the text, but the constant is the size of the
 * compiled pattern (a short pattern such as `(a?){1000}a{1000}` compiles to 5000 instructions), so a
 * pattern may compile to at most MAX_GREP_INSTRUCTIONS, and one call searches at most MAX_GREP_WORK
 * characters × instructions. Lines are searched with re2js's NFA engines (`matcher().find()`), whose
 * cost per character × instruction has a small bound (≤ ~10 ns here, bench/patterns.mjs), so one call
 * is bounded to about 2 s; its lazy DFA (`test()`) is faster on friendly input but can cost 6× more
 * than that bound when the input keeps it building states. A pattern of up to 12 instructions (most
 * literal or simple patterns) still searches the whole 16 MiB.
 */
export const MAX_GREP_INSTRUCTIONS = 1000;
export const MAX_GREP_WORK = 12 * MAX_GREP_SCAN_BYTES;

const EMPTY_DIR = "(empty directory)";
const NO_MATCHES = "(no matches)";

/** UTF-8 length without encoding: a 1 MiB check should not allocate another megabyte. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3; // including a lone surrogate, which is stored as U+FFFD
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Store helpers

function isDirectory(store: FileStore, path: string): boolean {
  if (path === "/") return true;
  for (const _ of store.list(dirPrefix(path), 1)) return true;
  return false;
}

/** Files and directories share one namespace: `/a` cannot be a file while `/a/b` exists, or the reverse. */
function placementConflict(store: FileStore, path: string): string | undefined {
  if (isDirectory(store, path)) return `${path} is a directory.`;
  const fileParent = parentDirs(path).find((dir) => store.stat(dir) !== null);
  return fileParent === undefined ? undefined : `${fileParent} is a file, so it cannot contain ${path}.`;
}

function putFile(store: FileStore, path: string, content: string): Outcome<{ path: string; bytes: number }> {
  const bytes = utf8Length(content);
  if (bytes > MAX_FILE_BYTES) {
    return fail(413, "payload_too_large", `The content is ${bytes} bytes; files are limited to 1 MiB (${MAX_FILE_BYTES} bytes).`);
  }
  const conflict = placementConflict(store, path);
  if (conflict) return fail(409, "conflict", conflict);
  store.put(path, content, bytes);
  return ok({ path, bytes });
}

const badPath = (message: string) => fail(400, "invalid_request", message);
const noSuchFile = (store: FileStore, path: string) =>
  fail(404, "file_not_found", isDirectory(store, path) ? `${path} is a directory, not a file.` : `No file at ${path}.`);

// ---------------------------------------------------------------------------------------------
// Whole-workspace operations (the HTTP surface: the tenant itself, so no scopes)

export function readFile(store: FileStore, input: string): Outcome<{ path: string; content: string }> {
  const path = normalizeFilePath(input);
  if (!path.ok) return badPath(path.message);
  const content = store.get(path.path);
  return content === null ? noSuchFile(store, path.path) : ok({ path: path.path, content });
}

export function writeFile(store: FileStore, input: string, content: string): Outcome<{ path: string; bytes: number }> {
  const path = normalizeFilePath(input);
  return path.ok ? putFile(store, path.path, content) : badPath(path.message);
}

export function deleteFile(store: FileStore, input: string): Outcome<{ path: string }> {
  const path = normalizeFilePath(input);
  if (!path.ok) return badPath(path.message);
  return store.delete(path.path) ? ok({ path: path.path }) : noSuchFile(store, path.path);
}

/** All file paths matching a glob; a relative glob is taken from `/`. */
export function globFiles(store: FileStore, glob: string): Outcome<string[]> {
  if (glob === "" || glob.length > MAX_GLOB_LENGTH) return badPath(`The glob must be 1 to ${MAX_GLOB_LENGTH} characters.`);
  const pattern = collapse(joinPath("/", glob));
  const paths: string[] = [];
  for (const file of store.list(literalDirPrefix(pattern))) if (globMatch(pattern, file.path)) paths.push(file.path);
  return ok(paths);
}

// ---------------------------------------------------------------------------------------------
// Scopes

/** The directory part of a glob before its first wildcard: every match lies below it. */
function literalDirPrefix(glob: string): string {
  const literal = globLiteralPrefix(glob);
  return literal.slice(0, literal.lastIndexOf("/") + 1) || "/";
}

const canRead = (scopes: readonly FsScope[], path: string) => fsAllows(scopes, path, "r");
const canWrite = (scopes: readonly FsScope[], path: string) => fsAllows(scopes, path, "rw");

/**
 * Whether some scope could match a path starting with `prefix`. Sound but loose: every match of a glob
 * starts with its literal head, so if neither string is a prefix of the other, no match can lie below.
 */
function mayReadBelow(scopes: readonly FsScope[], prefix: string): boolean {
  return scopes.some((s) => {
    const literal = globLiteralPrefix(s.path);
    return literal.startsWith(prefix) || prefix.startsWith(literal);
  });
}

// ---------------------------------------------------------------------------------------------
// Tool results

const done = (output: string): FsToolOutcome => ({ ok: true, output });
const toolError = (message: string, path?: string): FsToolOutcome =>
  path === undefined ? { ok: false, code: "tool_error", message } : { ok: false, code: "tool_error", message, path };
const invalidPath = (message: string, path: string): FsToolOutcome => ({ ok: false, code: "invalid_arguments", message, path });
const notFound = (message: string, path: string): FsToolOutcome => ({ ok: false, code: "file_not_found", message, path });
const denied = (access: "read" | "write", path: string): FsToolOutcome => ({
  ok: false,
  code: "permission_denied",
  message: `${access === "read" ? "Reading" : "Writing"} ${path} is outside this process's fs scopes.`,
  path,
});

function fromFailure(failure: Failure, path: string): FsToolOutcome {
  if (failure.code === "invalid_request") return invalidPath(failure.message, path);
  if (failure.code === "file_not_found") return notFound(failure.message, path);
  return toolError(failure.message, path);
}

// ---------------------------------------------------------------------------------------------
// The tools

type Args<K extends FsToolName> = z.output<(typeof FS_TOOL_ARGS)[K]>;
type Tool<K extends FsToolName> = (store: FileStore, args: Args<K>, scopes: readonly FsScope[]) => FsToolOutcome;

/** Lines `offset .. offset+limit` with their line ends, so consecutive pages concatenate to the file. */
function sliceLines(text: string, offset: number, limit: number | undefined): string {
  let start = 0;
  for (let i = 0; i < offset; i++) {
    const newline = text.indexOf("\n", start);
    if (newline === -1) return "";
    start = newline + 1;
  }
  if (limit === undefined) return text.slice(start);
  let end = start;
  for (let i = 0; i < limit; i++) {
    const newline = text.indexOf("\n", end);
    if (newline === -1) return text.slice(start);
    end = newline + 1;
  }
  return text.slice(start, end);
}

const readFileTool: Tool<"read_file"> = (store, args, scopes) => {
  const path = normalizeFilePath(args.path);
  if (!path.ok) return invalidPath(path.message, args.path);
  if (!canRead(scopes, path.path)) return denied("read", path.path);
  const content = store.get(path.path);
  if (content === null) return fromFailure(noSuchFile(store, path.path).error, path.path);
  if (args.offset === undefined && args.limit === undefined) return done(content);
  return done(sliceLines(content, args.offset ?? 0, args.limit));
};

const writeFileTool: Tool<"write_file"> = (store, args, scopes) => {
  const path = normalizeFilePath(args.path);
  if (!path.ok) return invalidPath(path.message, args.path);
  if (!canWrite(scopes, path.path)) return denied("write", path.path);
  const written = putFile(store, path.path, args.content);
  return written.ok ? done(`wrote ${written.value.bytes} bytes to ${path.path}`) : fromFailure(written.error, path.path);
};

/** Where `needle` occurs, counting overlapping occurrences (they make the edit ambiguous too), up to 2. */
function findUnique(haystack: string, needle: string): { index: number; count: number } {
  const index = haystack.indexOf(needle);
  if (index === -1) return { index, count: 0 };
  return { index, count: haystack.indexOf(needle, index + 1) === -1 ? 1 : 2 };
}

const editFileTool: Tool<"edit_file"> = (store, args, scopes) => {
  const path = normalizeFilePath(args.path);
  if (!path.ok) return invalidPath(path.message, args.path);
  if (!canWrite(scopes, path.path)) return denied("write", path.path);
  const content = store.get(path.path);
  if (content === null) return fromFailure(noSuchFile(store, path.path).error, path.path);
  const { index, count } = findUnique(content, args.oldText);
  if (count === 0) return toolError(`oldText does not occur in ${path.path}.`, path.path);
  if (count > 1) return toolError(`oldText occurs more than once in ${path.path}; include more surrounding text so it occurs exactly once.`, path.path);
  // Slicing, not String.replace: newText may contain `$&` and friends.
  const edited = content.slice(0, index) + args.newText + content.slice(index + args.oldText.length);
  const written = putFile(store, path.path, edited);
  return written.ok ? done(`edited ${path.path} (${written.value.bytes} bytes)`) : fromFailure(written.error, path.path);
};

const deleteFileTool: Tool<"delete_file"> = (store, args, scopes) => {
  const path = normalizeFilePath(args.path);
  if (!path.ok) return invalidPath(path.message, args.path);
  if (!canWrite(scopes, path.path)) return denied("write", path.path);
  return store.delete(path.path) ? done(`deleted ${path.path}`) : fromFailure(noSuchFile(store, path.path).error, path.path);
};

function capped(lines: string[], what: string): string {
  if (lines.length <= MAX_LISTED_ENTRIES) return lines.join("\n");
  const hidden = lines.length - MAX_LISTED_ENTRIES;
  return [...lines.slice(0, MAX_LISTED_ENTRIES), `[${hidden} more ${what} not shown; narrow the path or pattern]`].join("\n");
}

const listDirTool: Tool<"list_dir"> = (store, args, scopes) => {
  const dir = normalizePath(args.path);
  if (!dir.ok) return invalidPath(dir.message, args.path);
  const prefix = dirPrefix(dir.path);
  if (!mayReadBelow(scopes, prefix)) return denied("read", dir.path);
  if (dir.path !== "/" && store.stat(dir.path)) {
    return canRead(scopes, dir.path) ? toolError(`${dir.path} is a file, not a directory; use read_file.`, dir.path) : notFound(`No directory at ${dir.path}.`, dir.path);
  }
  const entries = new Set<string>();
  for (const file of store.list(prefix)) {
    if (!canRead(scopes, file.path)) continue;
    const relative = file.path.slice(prefix.length);
    if (args.recursive) {
      for (let slash = relative.indexOf("/"); slash !== -1; slash = relative.indexOf("/", slash + 1)) entries.add(relative.slice(0, slash + 1));
      entries.add(relative);
    } else {
      const slash = relative.indexOf("/");
      entries.add(slash === -1 ? relative : relative.slice(0, slash + 1));
    }
  }
  if (entries.size === 0) return dir.path === "/" ? done(EMPTY_DIR) : notFound(`No directory at ${dir.path}.`, dir.path);
  return done(capped([...entries].sort(), "entries"));
};

const globTool: Tool<"glob"> = (store, args, scopes) => {
  const base = normalizePath(args.path ?? "/");
  if (!base.ok) return invalidPath(base.message, args.path ?? "");
  const pattern = collapse(joinPath(base.path, args.pattern));
  const prefix = literalDirPrefix(pattern);
  if (!mayReadBelow(scopes, prefix)) return denied("read", prefix === "/" ? "/" : prefix.slice(0, -1));
  const paths: string[] = [];
  for (const file of store.list(prefix)) if (globMatch(pattern, file.path) && canRead(scopes, file.path)) paths.push(file.path);
  return done(paths.length === 0 ? NO_MATCHES : capped(paths, "paths"));
};

/**
 * grep's `glob` filter, as in ripgrep: without a `/` it matches file names anywhere below the base;
 * otherwise it is a path glob, relative to the base unless absolute.
 */
function fileFilter(glob: string | undefined, base: string): (path: string) => boolean {
  if (glob === undefined || glob === "") return () => true;
  if (!glob.includes("/")) return (path) => globMatch(glob, baseName(path));
  const pattern = collapse(joinPath(base, glob));
  return (path) => globMatch(pattern, path);
}

function clip(line: string): string {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  return text.length > MAX_GREP_LINE_CHARS ? text.slice(0, MAX_GREP_LINE_CHARS) + "…" : text;
}

type GrepRegex = { ok: true; regex: RE2JS; instructions: number } | { ok: false; message: string };

/** Compiles a grep pattern with RE2: linear-time, so no lookaround or backreferences. Never throws. */
export function compileGrepPattern(pattern: string, ignoreCase: boolean): GrepRegex {
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^error parsing regexp: /, "");
    return {
      ok: false,
      message: `Invalid regular expression: ${reason}. grep uses RE2 syntax, which has no lookahead, lookbehind or backreferences.`,
    };
  }
  const instructions = regex.re2().numberOfInstructions() as number;
  if (instructions > MAX_GREP_INSTRUCTIONS) {
    return {
      ok: false,
      message: `Invalid regular expression: the pattern is too complex (it compiles to ${instructions} instructions; the limit is ${MAX_GREP_INSTRUCTIONS}). Large counted repetitions such as {500} are the usual cause.`,
    };
  }
  return { ok: true, regex, instructions };
}

const grepTool: Tool<"grep"> = (store, args, scopes) => {
  const compiled = compileGrepPattern(args.pattern, args.ignoreCase);
  if (!compiled.ok) return toolError(compiled.message);
  const { regex, instructions } = compiled;
  const maxWork = Math.floor(MAX_GREP_WORK / instructions);
  const base = normalizePath(args.path ?? "/");
  if (!base.ok) return invalidPath(base.message, args.path ?? "");
  if (!mayReadBelow(scopes, dirPrefix(base.path))) return denied("read", base.path);

  const single = base.path === "/" ? null : store.stat(base.path);
  const candidates = single ? [single] : store.list(dirPrefix(base.path));
  const wanted = fileFilter(args.glob, base.path);
  const matches: string[] = [];
  let scanned = 0;
  // Characters searched (each line counts its end too); the work is that times the instructions.
  let searched = 0;
  let note = "";
  search: for (const file of candidates) {
    if (!canRead(scopes, file.path) || !wanted(file.path)) continue;
    if (scanned + file.bytes > MAX_GREP_SCAN_BYTES) {
      note = `[stopped after searching ${MAX_GREP_SCAN_BYTES / (1024 * 1024)} MiB; narrow the path or glob]`;
      break;
    }
    scanned += file.bytes;
    const lines = (store.get(file.path) ?? "").split("\n");
    for (let i = 0; i < lines.length; i++) {
      searched += lines[i]!.length + 1;
      if (searched > maxWork) {
        const before = searched - lines[i]!.length - 1;
        note = `[stopped at ${file.path}:${i + 1} after searching ${before} characters: a pattern that compiles to ${instructions} instructions may search ${maxWork} characters per call; simplify the pattern, or narrow the path or glob]`;
        break search;
      }
      let hit: boolean;
      try {
        hit = regex.matcher(lines[i]!).find();
      } catch (error) {
        return toolError(`grep failed on ${file.path}:${i + 1}: ${error instanceof Error ? error.message : String(error)}`, file.path);
      }
      if (!hit) continue;
      if (matches.length === args.maxResults) {
        note = `[showing the first ${args.maxResults} matches; there are more]`;
        break search;
      }
      matches.push(`${file.path}:${i + 1}: ${clip(lines[i]!)}`);
    }
  }
  if (matches.length === 0 && !note) return done(NO_MATCHES);
  return done(note ? [...matches, note].join("\n") : matches.join("\n"));
};

const TOOLS: { [K in FsToolName]: Tool<K> } = {
  read_file: readFileTool,
  write_file: writeFileTool,
  edit_file: editFileTool,
  list_dir: listDirTool,
  glob: globTool,
  grep: grepTool,
  delete_file: deleteFileTool,
};

function invoke<K extends FsToolName>(name: K, store: FileStore, args: unknown, scopes: readonly FsScope[]): FsToolOutcome {
  const parsed = FS_TOOL_ARGS[name].safeParse(args);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message));
    return { ok: false, code: "invalid_arguments", message: `Invalid arguments for ${name}: ${issues.join("; ")}` };
  }
  // TypeScript cannot correlate FS_TOOL_ARGS[K] with TOOLS[K] through safeParse; the schema is K's own.
  return TOOLS[name](store, parsed.data as Args<K>, scopes);
}

export interface RunOptions {
  /** Paths a policy denies to this call: the tool sees the workspace without them, as if they did not exist. */
  hidden?: (path: string) => boolean;
}

/** Runs one file tool: validates its arguments, enforces the scopes, and never throws for bad input. */
export function runFsTool(store: FileStore, name: string, args: unknown, scopes: readonly FsScope[], options: RunOptions = {}): FsToolOutcome {
  if (!isFsTool(name)) return { ok: false, code: "invalid_arguments", message: `${name} is not a file tool.` };
  return invoke(name, options.hidden ? withoutHidden(store, options.hidden) : store, args, scopes);
}

/** A view of `store` in which hidden paths do not exist (a directory holding only hidden files neither). */
function withoutHidden(store: FileStore, hidden: (path: string) => boolean): FileStore {
  return {
    get: (path) => (hidden(path) ? null : store.get(path)),
    stat: (path) => (hidden(path) ? null : store.stat(path)),
    put: (path, content, bytes) => store.put(path, content, bytes),
    delete: (path) => !hidden(path) && store.delete(path),
    *list(prefix, limit = -1) {
      let left = limit;
      if (left === 0) return;
      for (const file of store.list(prefix)) {
        if (hidden(file.path)) continue;
        yield file;
        if (--left === 0) return;
      }
    },
  };
}
