/**
 * Glob matching shared by tool allowlists, fs scopes, hook rules and the glob tool.
 *
 * `*` matches within one path segment, `**` across segments (a trailing `/**` also matches the
 * directory itself), `?` one character other than `/`, `[...]` a character class (`[!...]` negates).
 * Tool names have no `/`, so for them `*` matches any name.
 */
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  const hit = cache.get(glob);
  if (hit) return hit;
  let re = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const atSegmentStart = i === 0 || glob[i - 1] === "/";
        const atSegmentEnd = i + 2 === glob.length || glob[i + 2] === "/";
        i++;
        if (atSegmentStart && atSegmentEnd) {
          if (i + 1 === glob.length) {
            // "/a/**": the directory itself or anything below it.
            if (re.endsWith("/")) re = re.slice(0, -1) + "(?:/.*)?";
            else re += ".*";
          } else {
            // "/a/**/b": zero or more whole segments.
            i++;
            re += "(?:[^/]*/)*";
          }
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      // A "]" right after "[" or "[!" is a member, not the end; a negated class never matches "/".
      const negated = glob[i + 1] === "!" || glob[i + 1] === "^";
      const first = i + (negated ? 2 : 1);
      const end = glob.indexOf("]", first + 1);
      if (end === -1) re += "\\[";
      else {
        const body = glob.slice(first, end).replace(/[\\\]]/g, "\\$&");
        re += (negated ? "[^/" : "[") + body + "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  let compiled: RegExp;
  try {
    compiled = new RegExp(re + "$");
  } catch {
    compiled = /(?!)/; // a malformed class matches nothing rather than throwing
  }
  if (cache.size > 2000) cache.clear();
  cache.set(glob, compiled);
  return compiled;
}

export const globMatch = (glob: string, value: string): boolean => globToRegExp(glob).test(value);
export const anyGlobMatch = (globs: readonly string[], value: string): boolean => globs.some((g) => globMatch(g, value));
