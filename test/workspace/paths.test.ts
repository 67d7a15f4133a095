import { describe, expect, it } from "vitest";
import { baseName, collapse, dirPrefix, joinPath, normalizeFilePath, normalizePath, parentDir, parentDirs } from "../../src/workspace/paths";

const normalized = (input: string) => {
  const result = normalizePath(input);
  if (!result.ok) throw new Error(result.message);
  return result.path;
};

describe("normalizePath", () => {
  it.each([
    ["/", "/"],
    ["/a/b.txt", "/a/b.txt"],
    ["//a///b//", "/a/b"],
    ["/a/./b/.", "/a/b"],
    ["/a/b/../c", "/a/c"],
    ["/..", "/"],
    ["/../../../etc/passwd", "/etc/passwd"],
    ["/a/../../b", "/b"],
    ["/a/..", "/"],
    ["/.../x", "/.../x"],
    ["/a/..b/c..", "/a/..b/c.."],
    ["/ünïcødé/😀.md", "/ünïcødé/😀.md"],
  ])("%s → %s", (input, expected) => {
    expect(normalized(input)).toBe(expected);
  });

  it.each([
    ["", /empty/],
    ["a/b", /not absolute/],
    ["./a", /not absolute/],
    ["../a", /not absolute/],
    ["/a\u0000b", /NUL/],
    ["/a\nb", /control/],
    ["/" + "x".repeat(5000), /longer/],
  ])("rejects %j", (input, message) => {
    const result = normalizePath(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });

  it("judges the length after collapsing", () => {
    expect(normalizePath("/a" + "/.".repeat(3000)).ok).toBe(true);
  });
});

describe("normalizeFilePath", () => {
  it("refuses the root, however spelled", () => {
    for (const input of ["/", "//", "/a/..", "/../.."]) expect(normalizeFilePath(input).ok).toBe(false);
  });
  it("accepts files", () => {
    expect(normalizeFilePath("/a/../b.txt")).toEqual({ ok: true, path: "/b.txt" });
  });
});

describe("path helpers", () => {
  it("parentDirs lists the containing directories outermost first, without /", () => {
    expect(parentDirs("/a/b/c.txt")).toEqual(["/a", "/a/b"]);
    expect(parentDirs("/c.txt")).toEqual([]);
  });
  it("parentDir, baseName, dirPrefix, joinPath", () => {
    expect(parentDir("/a/b/c")).toBe("/a/b");
    expect(parentDir("/a")).toBe("/");
    expect(baseName("/a/b/c.txt")).toBe("c.txt");
    expect(dirPrefix("/")).toBe("/");
    expect(dirPrefix("/a")).toBe("/a/");
    expect(joinPath("/a", "b/*.ts")).toBe("/a/b/*.ts");
    expect(joinPath("/", "*.ts")).toBe("/*.ts");
    expect(joinPath("/a", "/x/**")).toBe("/x/**");
  });
  it("collapse keeps glob segments", () => {
    expect(collapse("/src/./**/*.ts")).toBe("/src/**/*.ts");
  });
});
