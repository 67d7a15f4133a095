/**
 * Path logic for the tenant workspace: absolute POSIX paths, rooted at the workspace's `/`.
 *
 * Every path is normalized before it is checked against a scope or touches storage, so that
 * `/allowed/../secret` is judged as `/secret`, and `..` is clamped at `/` so no spelling can leave it.
 */

export const MAX_PATH_LENGTH = 4096;

export type PathResult = { ok: true; path: string } | { ok: false; message: string };

/** Control characters would corrupt the line-oriented outputs of list_dir, glob and grep. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Collapses `.`, `..` (never above `/`), duplicate and trailing slashes. No validation. */
export function collapse(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return "/" + segments.join("/");
}

/** Validates and normalizes an absolute path; the root `/` is allowed. */
export function normalizePath(input: string): PathResult {
  if (input === "") return { ok: false, message: "The path is empty." };
  if (input.includes("\u0000")) return { ok: false, message: "The path contains a NUL character." };
  if (CONTROL_CHARS.test(input)) return { ok: false, message: "The path contains a control character." };
  if (!input.startsWith("/")) return { ok: false, message: `The path "${input}" is not absolute; paths start with "/".` };
  const path = collapse(input);
  if (path.length > MAX_PATH_LENGTH) return { ok: false, message: `The path is longer than ${MAX_PATH_LENGTH} characters.` };
  return { ok: true, path };
}

/** Like normalizePath, but the result must name a file, so `/` itself is refused. */
export function normalizeFilePath(input: string): PathResult {
  const result = normalizePath(input);
  if (result.ok && result.path === "/") return { ok: false, message: 'The path "/" is the root directory, not a file.' };
  return result;
}

/** The prefix every path below `dir` starts with: `/` for the root, `dir/` otherwise. */
export const dirPrefix = (dir: string): string => (dir === "/" ? "/" : dir + "/");

/** The directories that contain `path`, outermost first, excluding `/`: `/a/b/c` → `/a`, `/a/b`. */
export function parentDirs(path: string): string[] {
  const dirs: string[] = [];
  for (let i = path.indexOf("/", 1); i !== -1; i = path.indexOf("/", i + 1)) dirs.push(path.slice(0, i));
  return dirs;
}

export const parentDir = (path: string): string => {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
};

export const baseName = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

/** Joins a relative path (or glob) onto a normalized directory; an absolute second part wins. */
export const joinPath = (dir: string, rest: string): string => (rest.startsWith("/") ? rest : dirPrefix(dir) + rest);
