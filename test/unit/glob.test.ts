import { describe, expect, it } from "vitest";
import { anyGlobMatch, globMatch, globToRegExp } from "../../src/lib/glob";

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
    expect(() => globToRegExp(glob)).not.toThrow();
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

  it("the compiled expression is cached and stateless across calls", () => {
    expect(globToRegExp("/c/**")).toBe(globToRegExp("/c/**"));
    for (let i = 0; i < 3; i++) expect(globMatch("/c/**", "/c/d")).toBe(true);
  });
});
