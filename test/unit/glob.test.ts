import { describe, expect, it } from "vitest";
import { MAX_GLOB_LENGTH, anyGlobMatch, compileGlob, globMatch } from "../../src/lib/glob";
import { rng } from "../support/rng";

describe("globMatch over paths", () => {
  it.each([
    // `*` stays within one segment
    ["/src/*", "/src/a.ts", true],
    ["/src/*", "/src/lib/a.ts", false],
    ["/src/*", "/src", false],
    ["/src/*.ts", "/src/a.ts", true],
    ["/src/*.ts", "/src/a.js", false],
    ["/*/a.ts", "/src/a.ts", true],
    ["/*/a.ts", "/src/lib/a.ts", false],
    // `**` crosses segments
    ["/src/**", "/src/a.ts", true],
    ["/src/**", "/src/lib/deep/a.ts", true],
    ["/**", "/", true],
    ["/**", "/anything/at/all", true],
    ["**", "/x/y", true],
    // a trailing `/**` matches the directory itself, but not a sibling sharing the prefix
    ["/src/**", "/src", true],
    ["/src/**", "/srcx", false],
    ["/src/**", "/srcx/a", false],
    ["/a/**", "/ab/c", false],
    // `/a/**/b`: zero or more whole segments in between
    ["/a/**/b", "/a/b", true],
    ["/a/**/b", "/a/x/b", true],
    ["/a/**/b", "/a/x/y/z/b", true],
    ["/a/**/b", "/a/xb", false],
    ["/a/**/b", "/ab", false],
    ["/a/**/b", "/a/b/c", false],
    ["**/b.ts", "/deep/dir/b.ts", true],
    ["/a/**/*.md", "/a/x/y/readme.md", true],
    ["/a/**/*.md", "/a/readme.md", true],
    ["/a/**/*.md", "/a/x/readme.txt", false],
    // `?` is one character, never `/`
    ["/a?c", "/abc", true],
    ["/a?c", "/ac", false],
    ["/a?c", "/abbc", false],
    ["/a?c", "/a/c", false],
    // classes and negated classes
    ["/file[0-9].txt", "/file7.txt", true],
    ["/file[0-9].txt", "/filex.txt", false],
    ["/file[abc]", "/fileb", true],
    ["/file[!abc]", "/fileb", false],
    ["/file[!abc]", "/filez", true],
    ["/a[!x]b", "/a/b", false], // a negated class does not match "/"
    ["/x[]]", "/x]", true], // "]" first in a class is a member
    ["/x[]a]", "/xa", true],
    ["/x[!]a]", "/x]", false],
    ["/x[!]a]", "/xb", true],
    // regex metacharacters in literals are literal
    ["/a.b", "/a.b", true],
    ["/a.b", "/axb", false],
    ["/a+b", "/a+b", true],
    ["/a+b", "/aab", false],
    ["/f(1).txt", "/f(1).txt", true],
    ["/f(1).txt", "/f1.txt", false],
    ["/cost$", "/cost$", true],
    ["/^x|y{2}", "/^x|y{2}", true],
    ["/^x|y{2}", "/yy", false],
    ["/back\\slash", "/back\\slash", true],
    // anchored at both ends
    ["/a", "/a/b", false],
    ["/a/b", "/x/a/b", false],
  ])("%s vs %s → %s", (glob, value, expected) => {
    expect(globMatch(glob, value)).toBe(expected);
  });
});

describe("globMatch over tool names", () => {
  it.each([
    ["read_*", "read_file", true],
    ["read_*", "write_file", false],
    ["*", "delegate", true],
    ["*", "list_tasks", true],
    ["*_file", "edit_file", true],
    ["*_file", "list_dir", false],
    ["?rep", "grep", true],
    ["[gr]*", "glob", true],
    ["[!gr]*", "glob", false],
    ["delegate", "delegate", true],
    ["delegate", "delegate2", false],
  ])("%s vs %s → %s", (glob, name, expected) => {
    expect(globMatch(glob, name)).toBe(expected);
  });

  it("anyGlobMatch is true when one of the patterns matches, false for none", () => {
    expect(anyGlobMatch(["write_*", "grep"], "grep")).toBe(true);
    expect(anyGlobMatch(["write_*", "grep"], "glob")).toBe(false);
    expect(anyGlobMatch([], "glob")).toBe(false);
  });
});

describe("malformed patterns", () => {
  it.each(["[", "[!", "/a[", "/a[b", "[z-a]", "/x[z-a]y", "[]", "[!]", "[\\]", "((", "[[", "**[", "?["])("%s never throws", (glob) => {
    expect(() => compileGlob(glob)).not.toThrow();
    expect(() => globMatch(glob, "/a/b")).not.toThrow();
  });

  it("an unclosed bracket is a literal", () => {
    expect(globMatch("/a[b", "/a[b")).toBe(true);
    expect(globMatch("/a[b", "/ab")).toBe(false);
  });

  it("an invalid range matches nothing rather than everything", () => {
    expect(globMatch("[z-a]", "a")).toBe(false);
    expect(globMatch("[z-a]", "z")).toBe(false);
    expect(globMatch("[z-a]", "")).toBe(false);
  });

  it("the compiled matcher is cached and stateless across calls", () => {
    expect(compileGlob("/c/**")).toBe(compileGlob("/c/**"));
    for (let i = 0; i < 3; i++) expect(globMatch("/c/**", "/c/d")).toBe(true);
    expect(globMatch("/c/**", "/x")).toBe(false);
    expect(globMatch("/c/**", "/c")).toBe(true);
  });
});

/**
 * What the matcher replaced: the glob compiled to a backtracking RegExp, with the two fixes the
 * matcher makes (`**` now spans U+2028/U+2029 as it spans any other character, and `[!-a]` is "not
 * `-` or `a`" rather than the RegExp `[^/-a]`). Only safe on short inputs.
 */
function referenceRegExp(glob: string): RegExp {
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
            if (re.endsWith("/")) re = re.slice(0, -1) + "(?:/[^]*)?";
            else re += "[^]*";
          } else {
            i++;
            re += "(?:[^/]*/)*";
          }
        } else re += "[^]*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const negated = glob[i + 1] === "!" || glob[i + 1] === "^";
      const first = i + (negated ? 2 : 1);
      const end = glob.indexOf("]", first + 1);
      if (end === -1) re += "\\[";
      else {
        const body = glob.slice(first, end).replace(/[\\\]]/g, "\\$&");
        re += negated ? "(?!/)[^" + body + "]" : "[" + body + "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  try {
    return new RegExp(re + "$");
  } catch {
    return /(?!)/;
  }
}

describe("the same answers as the regex translation it replaced", () => {
  const globParts = ["a", "b", "/", "*", "**", "?", "[", "]", "!", "^", "-", "\\", ".", "/**", "**/", "[!", "[a-", "-]", "\u2028", "é"];
  const valueParts = ["a", "b", "/", "-", "]", "[", "!", "^", "\\", ".", "0", "z", "\u2028", "\n", "é"];

  it("on 200,000 random short globs and values (seeded)", () => {
    const r = rng(20251127);
    let compared = 0;
    for (let i = 0; i < 25_000; i++) {
      let glob = "";
      for (let n = r.int(9); n > 0; n--) glob += r.pick(globParts);
      const reference = referenceRegExp(glob);
      for (let j = 0; j < 8; j++) {
        let value = "";
        for (let n = r.int(9); n > 0; n--) value += r.pick(valueParts);
        if (globMatch(glob, value) !== reference.test(value)) expect({ glob, value, matches: globMatch(glob, value) }).toEqual({ glob, value, matches: reference.test(value) });
        compared++;
      }
    }
    expect(compared).toBe(200_000);
  });

  it("on globs whose automaton outgrows its cache (seeded)", () => {
    const r = rng(7);
    for (const glob of ["*a" + "?".repeat(16), "**/*a" + "?".repeat(12) + "b", "*a*b" + "?".repeat(10), "*[ab]a" + "?".repeat(14) + "*"]) {
      const reference = referenceRegExp(glob);
      for (let j = 0; j < 400; j++) {
        let value = glob.startsWith("**") ? "/x/" : "";
        for (let n = 10 + r.int(400); n > 0; n--) value += r.next() < 0.5 ? "a" : "b";
        if (globMatch(glob, value) !== reference.test(value)) expect({ glob, value, matches: globMatch(glob, value) }).toEqual({ glob, value, matches: reference.test(value) });
      }
    }
  });

  it("fixes: ** spans every character, and [!-a] means neither - nor a", () => {
    expect(globMatch("/**", "/a\u2028b")).toBe(true);
    expect(globMatch("/secret/**", "/secret/x\u2029y")).toBe(true);
    expect(globMatch("a**", "a\u2028/b")).toBe(true);
    expect(globMatch("[!-a]", "-")).toBe(false);
    expect(globMatch("[!-a]", "a")).toBe(false);
    expect(globMatch("[!-a]", "0")).toBe(true);
    expect(globMatch("[!-a]", "/")).toBe(false);
    expect(globMatch("[!--]", "x")).toBe(true);
  });
});

/**
 * Globs and values on which the backtracking RegExp took minutes to forever (the non-matching
 * ones; a match it found quickly); now every match is one pass. No timing assertions: matching is
 * synchronous, so a regression hangs the run (no test timeout can interrupt it) and fails it there.
 */
describe("matching time is linear in the value", () => {
  const a = (n: number) => "a".repeat(n);
  it.each([
    ["*a*a*a*a*a*a*a*a*a*a*a*a*b", a(64), false],
    ["*a*a*a*a*a*a*a*a*a*a*a*a*b", a(4096), false],
    ["*a*a*a*a*a*a*a*a*a*a*a*a*a", a(4096), true],
    ["**/**/**/**/**/**/x", "/a".repeat(400) + "/y", false],
    ["**/**/**/**/**/**/x", "/a".repeat(2000) + "/x", true],
    ["/a/**/**/**/**/**/**/**/**/b", "/a".repeat(1000) + "/c", false],
    ["/*a*a*a*a*a*a*a*a*a*a/**", "/" + a(200) + "b", false],
    ["a**a**a**a**a**a**a**a**b", a(4096), false],
    ["?*?*?*?*?*?*?*?*?*?*?*/", a(4096), false],
  ])("%s against %#", (glob, value, expected) => {
    expect(globMatch(glob, value)).toBe(expected);
  });

  it("globs at the length cap against long paths", () => {
    const star = "*a".repeat(MAX_GLOB_LENGTH / 2);
    expect(globMatch(star, a(4096))).toBe(true);
    expect(globMatch(star.slice(0, -1) + "b", a(4096))).toBe(false);
    expect(globMatch("**/".repeat(MAX_GLOB_LENGTH / 3) + "x", "/a".repeat(2047))).toBe(false);
    expect(globMatch("*a" + "?".repeat(MAX_GLOB_LENGTH - 2), "ab".repeat(2048))).toBe(false);
    expect(globMatch("a**".repeat(MAX_GLOB_LENGTH / 3) + "b", a(4096))).toBe(false);
  });

  it("keeps its automaton cache bounded on globs with exponentially many states", () => {
    const glob = "*a" + "?".repeat(20);
    const r = rng(3);
    let value = "";
    for (let i = 0; i < 4000; i++) value += r.next() < 0.5 ? "a" : "b";
    expect(globMatch(glob, value)).toBe(value[value.length - 21] === "a");
    expect(compileGlob(glob).dfaStates).toBeLessThan(5000);
  });
});
