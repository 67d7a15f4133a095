import { describe, expect, it } from "vitest";
import { clampLimits, clipScopes, covers, effectiveTools, expandTools, fsAllows } from "../../src/agent/capabilities";
import type { FsMode, FsScope } from "../../src/contracts";
import { ALL_TOOL_NAMES } from "../../src/contracts/tools";
import { rng } from "../support/rng";


const FS_DEFAULT = ["read_file", "write_file", "edit_file", "list_dir", "glob", "grep"];

describe("expandTools", () => {
  it.each([
    [["*"], ALL_TOOL_NAMES],
    [["read_*"], ["read_file"]],
    [["*_file"], ["read_file", "write_file", "edit_file", "delete_file"]],
    [["delegate", "collect"], ["delegate", "collect"]],
    [["g*"], ["glob", "grep"]],
    [["nope", "shell"], []],
    [[], []],
    [["[!r]*_file"], ["write_file", "edit_file", "delete_file"]],
  ])("%j → %j", (patterns, expected) => {
    expect(expandTools(patterns).sort()).toEqual([...expected].sort());
  });

  it("only ever names known tools, in the known order", () => {
    expect(expandTools(["grep", "read_file"])).toEqual(["read_file", "grep"]);
    expect(expandTools(["*"], ["a", "b"])).toEqual(["a", "b"]);
  });
});

describe("effectiveTools", () => {
  it("a root process gets its own patterns expanded", () => {
    expect(effectiveTools(["*"], null)).toEqual(ALL_TOOL_NAMES);
  });

  it("intersects own, parent and requested", () => {
    const parent = ["read_file", "grep", "delegate"];
    expect(effectiveTools(["*"], parent)).toEqual(["read_file", "grep", "delegate"]);
    expect(effectiveTools(["*"], parent, ["read_*", "grep"])).toEqual(["read_file", "grep"]);
    expect(effectiveTools(["*_file"], parent)).toEqual(["read_file"]);
    expect(effectiveTools(FS_DEFAULT, parent, ["delegate"])).toEqual([]);
    expect(effectiveTools(["*"], parent, [])).toEqual([]);
    expect(effectiveTools(["*"], [])).toEqual([]);
  });

  it("narrows down a chain of delegations and never widens again", () => {
    const root = effectiveTools(["*"], null);
    const d1 = effectiveTools(["*"], root, ["read_file", "write_file", "grep", "delegate"]);
    const d2 = effectiveTools(["*"], d1, ["*_file", "delegate"]);
    const d3 = effectiveTools(["*"], d2, ["*"]); // asking for everything gets only what d2 has
    const d4 = effectiveTools(["grep", "read_file"], d3);
    expect(d1).toEqual(["read_file", "write_file", "grep", "delegate"]);
    expect(d2).toEqual(["read_file", "write_file", "delegate"]);
    expect(d3).toEqual(d2);
    expect(d4).toEqual(["read_file"]);
  });

  it("property: no sequence of delegations widens a child's tools beyond its parent's", () => {
    const atoms = [...ALL_TOOL_NAMES, "*", "?", "*_file", "read_*", "[dc]*", "[!d]*", "g*", "*e*", "shell", "??????"];
    const patterns = (r: ReturnType<typeof rng>) => Array.from({ length: r.int(4) }, () => r.pick(atoms));
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      let parent: string[] | null = null;
      for (let depth = 0; depth < 6; depth++) {
        const own = patterns(r);
        const requested = r.int(3) === 0 ? undefined : patterns(r);
        const child = effectiveTools(own, parent, requested);
        const where = `seed ${seed} depth ${depth}: own ${JSON.stringify(own)} requested ${JSON.stringify(requested)}`;
        for (const t of child) {
          expect(ALL_TOOL_NAMES, where).toContain(t);
          expect(expandTools(own), where).toContain(t);
          if (parent) expect(parent, where).toContain(t);
          if (requested) expect(expandTools(requested), where).toContain(t);
        }
        // and it is exactly the intersection, not less
        const expected = expandTools(own).filter((t) => (!parent || parent.includes(t)) && (!requested || expandTools(requested).includes(t)));
        expect(child, where).toEqual(expected);
        parent = child;
      }
    }
  });
});

describe("fsAllows", () => {
  const scopes: FsScope[] = [
    { path: "/src/**", mode: "r" },
    { path: "/out/**", mode: "rw" },
  ];
  it.each([
    ["/src/a.ts", "r", true],
    ["/src/a.ts", "rw", false],
    ["/src", "r", true],
    ["/out/x/y", "rw", true],
    ["/out/x/y", "r", true],
    ["/outside", "r", false],
    ["/srcx/a", "r", false],
    ["/", "r", false],
  ] as [string, FsMode, boolean][])("%s %s → %s", (path, mode, expected) => {
    expect(fsAllows(scopes, path, mode)).toBe(expected);
  });
  it("no scopes allow nothing", () => {
    expect(fsAllows([], "/a", "r")).toBe(false);
  });
});

describe("covers", () => {
  it.each([
    ["/**", "/**", true],
    ["/**", "/src/**", true],
    ["/**", "/a/b/c.txt", true],
    ["/**", "/*.md", true],
    ["/src/**", "/src/**", true],
    ["/src/**", "/src/lib/**", true],
    ["/src/**", "/src/*.ts", true],
    ["/src/**", "/src/**/*.ts", true],
    ["/src/**", "/src", true],
    ["/src/**", "/src/a.ts", true],
    ["/src/**", "/**", false],
    ["/src/**", "/src*", false],
    ["/src/**", "/src*/**", false],
    ["/src/**", "/srcx/**", false],
    ["/src/**", "/srcx", false],
    ["/a/**", "/ab/**", false],
    ["/a/**", "/a[b]/**", false],
    ["/a/**", "/?/**", false],
    ["/src/*", "/src/a.ts", true],
    ["/src/*", "/src/*.ts", false], // sound but incomplete: only dir/** globs cover wildcards
    ["/src/*", "/src/lib/a.ts", false],
    ["/src/a.ts", "/src/a.ts", true],
    ["/src/a.ts", "/src/b.ts", false],
    ["/src/a.ts", "/src/**", false],
    ["/*/**", "/src/**", false], // a wildcard in the outer directory is refused
    ["src/**", "/src/**", false],
    ["/**", "src/**", false],
  ])("covers(%s, %s) → %s", (outer, inner, expected) => {
    expect(covers(outer, inner)).toBe(expected);
  });

  it("property: when covers(outer, inner), every path inner matches, outer matches", () => {
    const globs = randomGlobs();
    const paths = randomPaths();
    for (const outer of globs) {
      for (const inner of globs) {
        if (!covers(outer, inner)) continue;
        for (const p of paths) {
          if (fsAllows([{ path: inner, mode: "r" }], p, "r")) {
            expect(fsAllows([{ path: outer, mode: "r" }], p, "r"), `covers(${outer}, ${inner}) but ${p}`).toBe(true);
          }
        }
      }
    }
  });
});

const SEGMENTS = ["a", "ab", "b", "src", "x.ts", "a.md", "lib"];

function randomPaths(): string[] {
  const out = new Set<string>(["/"]);
  const r = rng(7);
  for (let i = 0; i < 300; i++) {
    const depth = 1 + r.int(4);
    out.add("/" + Array.from({ length: depth }, () => r.pick(SEGMENTS)).join("/"));
  }
  return [...out];
}

function randomGlobs(): string[] {
  const out = new Set<string>(["/**", "/a/**", "/ab/**", "/a/b/**", "/src/**", "/src/*.ts", "/a*", "/a/*", "/a/**/x.ts", "/a", "/a/b", "/*/b/**", "/[ab]/**", "/a?/**", "/**/a.md"]);
  const r = rng(11);
  const parts = [...SEGMENTS, "*", "**", "?", "a*", "*.ts", "[ab]", "[!a]*", "a?"];
  for (let i = 0; i < 80; i++) {
    const depth = 1 + r.int(3);
    out.add("/" + Array.from({ length: depth }, () => r.pick(parts)).join("/"));
  }
  return [...out];
}

describe("clipScopes", () => {
  it.each([
    ["parent /src/** r, child asks /** rw", [{ path: "/**", mode: "rw" }], [{ path: "/src/**", mode: "r" }], [{ path: "/src/**", mode: "r" }]],
    ["parent /a/** rw, child /a/b/** rw", [{ path: "/a/b/**", mode: "rw" }], [{ path: "/a/**", mode: "rw" }], [{ path: "/a/b/**", mode: "rw" }]],
    ["parent /a/** r, child /a/b/** rw", [{ path: "/a/b/**", mode: "rw" }], [{ path: "/a/**", mode: "r" }], [{ path: "/a/b/**", mode: "r" }]],
    ["parent /a/** rw, child /a/** r", [{ path: "/a/**", mode: "r" }], [{ path: "/a/**", mode: "rw" }], [{ path: "/a/**", mode: "r" }]],
    ["sibling dirs do not leak", [{ path: "/ab/**", mode: "rw" }], [{ path: "/a/**", mode: "rw" }], []],
    ["sibling dirs do not leak, reversed", [{ path: "/a/**", mode: "rw" }], [{ path: "/ab/**", mode: "rw" }], []],
    ["disjoint", [{ path: "/x/**", mode: "rw" }], [{ path: "/y/**", mode: "rw" }], []],
    ["a parent with no scopes grants none", [{ path: "/**", mode: "rw" }], [], []],
    [
      "a child asking for everything gets each of the parent's scopes",
      [{ path: "/**", mode: "rw" }],
      [
        { path: "/a/**", mode: "r" },
        { path: "/b/**", mode: "rw" },
      ],
      [
        { path: "/a/**", mode: "r" },
        { path: "/b/**", mode: "rw" },
      ],
    ],
    [
      "the strongest mode any parent scope allows survives",
      [{ path: "/src/**", mode: "rw" }],
      [
        { path: "/**", mode: "r" },
        { path: "/src/**", mode: "rw" },
      ],
      [{ path: "/src/**", mode: "rw" }],
    ],
  ] as [string, FsScope[], FsScope[], FsScope[]][])("%s", (_, scopes, bound, expected) => {
    const sort = (xs: FsScope[]) => [...xs].sort((x, y) => x.path.localeCompare(y.path));
    expect(sort(clipScopes(scopes, bound))).toEqual(sort(expected));
  });

  it("property: a clipped child never gets a path or a mode its parent lacks, at any depth", () => {
    const globs = randomGlobs();
    const paths = randomPaths();
    const modes: FsMode[] = ["r", "rw"];
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const scopesOf = () => Array.from({ length: r.int(4) }, () => ({ path: r.pick(globs), mode: r.pick(modes) }));
      let parent: FsScope[] = scopesOf();
      for (let depth = 0; depth < 3; depth++) {
        const own = scopesOf();
        const requested = scopesOf();
        const child = clipScopes(clipScopes(own, parent), requested);
        for (const p of paths) {
          for (const m of modes) {
            if (!fsAllows(child, p, m)) continue;
            const where = `seed ${seed} depth ${depth}: ${p} ${m} child ${JSON.stringify(child)}`;
            expect(fsAllows(parent, p, m), `${where} parent ${JSON.stringify(parent)}`).toBe(true);
            expect(fsAllows(own, p, m), `${where} own ${JSON.stringify(own)}`).toBe(true);
            expect(fsAllows(requested, p, m), `${where} requested ${JSON.stringify(requested)}`).toBe(true);
          }
        }
        parent = child;
      }
    }
  });

  it("drops duplicate paths, keeping the stronger mode", () => {
    const out = clipScopes(
      [
        { path: "/a/**", mode: "r" },
        { path: "/a/**", mode: "rw" },
      ],
      [{ path: "/**", mode: "rw" }],
    );
    expect(out).toEqual([{ path: "/a/**", mode: "rw" }]);
  });
});

describe("clampLimits", () => {
  it.each([
    [{ maxChildren: 20, maxDepth: 3 }, null, { maxChildren: 20, maxDepth: 3 }],
    [{ maxChildren: 20, maxDepth: 3 }, { maxChildren: 5, maxDepth: 10 }, { maxChildren: 5, maxDepth: 3 }],
    [{ maxChildren: 2, maxDepth: 8 }, { maxChildren: 5, maxDepth: 1 }, { maxChildren: 2, maxDepth: 1 }],
    [{ maxChildren: 0, maxDepth: 0 }, { maxChildren: 5, maxDepth: 5 }, { maxChildren: 0, maxDepth: 0 }],
  ])("%j within %j → %j", (own, parent, expected) => {
    expect(clampLimits(own, parent)).toEqual(expected);
  });
});
