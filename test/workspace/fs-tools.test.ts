import { describe, expect, it } from "vitest";
import type { FsScope } from "../../src/contracts";
import { MAX_FILE_BYTES, MAX_GREP_PATTERN_LENGTH, type FsToolOutcome } from "../../src/contracts/tools";
import { MAX_GLOB_LENGTH } from "../../src/lib/glob";
import {
  MAX_GREP_INSTRUCTIONS,
  MAX_GREP_WORK,
  MAX_LISTED_ENTRIES,
  compileGrepPattern,
  globFiles,
  readFile,
  runFsTool,
  utf8Length,
  writeFile,
} from "../../src/workspace/fs-tools";
import { MemoryStore } from "./memory-store";

const ALL: FsScope[] = [{ path: "/**", mode: "rw" }];

function tools(initial: Record<string, string> = {}, scopes: FsScope[] = ALL) {
  const store = new MemoryStore(initial);
  const run = (name: string, args: unknown, as: FsScope[] = scopes) => runFsTool(store, name, args, as);
  const output = (name: string, args: unknown, as?: FsScope[]) => {
    const result = run(name, args, as);
    if (!result.ok) throw new Error(`${name} failed: ${result.code}: ${result.message}`);
    return result.output;
  };
  return { store, run, output };
}

const failure = (result: FsToolOutcome) => {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.output)}`);
  return result;
};

describe("utf8Length", () => {
  it("counts UTF-8 bytes", () => {
    for (const text of ["", "abc", "é", "€", "😀", "a😀b€", "\ud800", "x\udc00y"]) {
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
    }
  });
});

describe("argument validation", () => {
  it("rejects unknown tools and bad arguments without throwing", () => {
    const { run } = tools();
    expect(failure(run("rm_rf", {})).code).toBe("invalid_arguments");
    expect(failure(run("delegate", {})).code).toBe("invalid_arguments");
    expect(failure(run("read_file", {})).code).toBe("invalid_arguments");
    expect(failure(run("read_file", null)).code).toBe("invalid_arguments");
    expect(failure(run("read_file", { path: "/a", extra: 1 })).code).toBe("invalid_arguments");
    expect(failure(run("read_file", { path: "/a", offset: -1 })).message).toMatch(/offset/);
    expect(failure(run("write_file", { path: "/a" })).message).toMatch(/content/);
    expect(failure(run("grep", { pattern: "x", maxResults: 0 })).code).toBe("invalid_arguments");
  });

  it("rejects bad paths as invalid_arguments", () => {
    const { run, store } = tools();
    for (const path of ["relative.txt", "/a\u0000b", "/", "/x/.."]) {
      const result = failure(run("write_file", { path, content: "x" }));
      expect(result.code).toBe("invalid_arguments");
      expect(result.path).toBe(path);
    }
    expect(store.writes).toBe(0);
  });
});

describe("read_file", () => {
  const text = "one\ntwo\nthree\nfour\n";

  it("reads the whole text", () => {
    expect(tools({ "/a.txt": text }).output("read_file", { path: "/a.txt" })).toBe(text);
  });

  it("pages by lines, and pages concatenate back to the file", () => {
    const { output } = tools({ "/a.txt": text });
    expect(output("read_file", { path: "/a.txt", offset: 1, limit: 2 })).toBe("two\nthree\n");
    expect(output("read_file", { path: "/a.txt", limit: 1 })).toBe("one\n");
    expect(output("read_file", { path: "/a.txt", offset: 3 })).toBe("four\n");
    expect(output("read_file", { path: "/a.txt", offset: 4 })).toBe("");
    expect(output("read_file", { path: "/a.txt", offset: 99, limit: 5 })).toBe("");
    const pages = [0, 2, 4].map((offset) => output("read_file", { path: "/a.txt", offset, limit: 2 }));
    expect(pages.join("")).toBe(text);
  });

  it("handles a last line without a newline and a huge offset quickly", () => {
    const { output } = tools({ "/b.txt": "x\ny" });
    expect(output("read_file", { path: "/b.txt", offset: 1, limit: 10 })).toBe("y");
    expect(output("read_file", { path: "/b.txt", offset: Number.MAX_SAFE_INTEGER })).toBe("");
  });

  it("normalizes the path", () => {
    expect(tools({ "/a/b.txt": "hi" }).output("read_file", { path: "//a/./c/../b.txt" })).toBe("hi");
  });

  it("answers file_not_found, and says so for a directory", () => {
    const { run } = tools({ "/dir/x": "1" });
    expect(failure(run("read_file", { path: "/nope" })).code).toBe("file_not_found");
    const dir = failure(run("read_file", { path: "/dir" }));
    expect(dir.code).toBe("file_not_found");
    expect(dir.message).toMatch(/directory/);
  });
});

describe("write_file", () => {
  it("writes, overwrites and reports bytes", () => {
    const { output, store } = tools();
    expect(output("write_file", { path: "/notes/a.md", content: "héllo" })).toBe("wrote 6 bytes to /notes/a.md");
    expect(output("write_file", { path: "/notes/a.md", content: "" })).toBe("wrote 0 bytes to /notes/a.md");
    expect(store.files.get("/notes/a.md")).toBe("");
  });

  it("allows exactly 1 MiB and refuses one byte more", () => {
    const { run, store } = tools();
    expect(run("write_file", { path: "/big", content: "a".repeat(MAX_FILE_BYTES) }).ok).toBe(true);
    const tooBig = failure(run("write_file", { path: "/bigger", content: "a".repeat(MAX_FILE_BYTES - 1) + "é" }));
    expect(tooBig.code).toBe("tool_error");
    expect(tooBig.message).toMatch(/1 MiB/);
    expect(store.files.has("/bigger")).toBe(false);
  });

  it("keeps files and directories apart", () => {
    const { run, store } = tools({ "/a": "file", "/d/x": "1" });
    expect(failure(run("write_file", { path: "/a/b", content: "x" })).message).toMatch(/\/a is a file/);
    expect(failure(run("write_file", { path: "/d", content: "x" })).message).toMatch(/directory/);
    expect(store.writes).toBe(0);
  });
});

describe("edit_file", () => {
  it("replaces a unique occurrence literally", () => {
    const { output, store } = tools({ "/a.ts": "const a = 1;\nconst b = 2;\n" });
    expect(output("edit_file", { path: "/a.ts", oldText: "b = 2", newText: "b = '$&$1'" })).toMatch(/^edited \/a\.ts/);
    expect(store.files.get("/a.ts")).toBe("const a = 1;\nconst b = '$&$1';\n");
  });

  it("refuses missing, repeated and overlapping oldText, writing nothing", () => {
    const { run, store } = tools({ "/a.txt": "foo foo", "/b.txt": "aaa" });
    expect(failure(run("edit_file", { path: "/a.txt", oldText: "bar", newText: "x" })).message).toMatch(/does not occur/);
    expect(failure(run("edit_file", { path: "/a.txt", oldText: "foo", newText: "x" })).message).toMatch(/more than once/);
    expect(failure(run("edit_file", { path: "/b.txt", oldText: "aa", newText: "x" })).message).toMatch(/more than once/);
    expect(failure(run("edit_file", { path: "/none", oldText: "a", newText: "b" })).code).toBe("file_not_found");
    expect(store.writes).toBe(0);
  });

  it("refuses an edit that would exceed 1 MiB", () => {
    const { run, store } = tools({ "/a.txt": "x" });
    expect(failure(run("edit_file", { path: "/a.txt", oldText: "x", newText: "y".repeat(MAX_FILE_BYTES + 1) })).message).toMatch(/1 MiB/);
    expect(store.files.get("/a.txt")).toBe("x");
  });
});

describe("delete_file", () => {
  it("deletes a file and answers file_not_found after", () => {
    const { run, store } = tools({ "/a.txt": "x" });
    expect(run("delete_file", { path: "/a.txt" })).toEqual({ ok: true, output: "deleted /a.txt" });
    expect(store.files.size).toBe(0);
    expect(failure(run("delete_file", { path: "/a.txt" })).code).toBe("file_not_found");
  });
});

describe("list_dir", () => {
  const files = { "/README.md": "r", "/src/index.ts": "i", "/src/lib/glob.ts": "g", "/src/lib/jwt.ts": "j", "/srcx.txt": "s" };

  it("lists one level, directories ending in /", () => {
    const { output } = tools(files);
    expect(output("list_dir", {})).toBe("README.md\nsrc/\nsrcx.txt");
    expect(output("list_dir", { path: "/src" })).toBe("index.ts\nlib/");
    expect(output("list_dir", { path: "/src/lib/" })).toBe("glob.ts\njwt.ts");
  });

  it("lists recursively with the directories", () => {
    expect(tools(files).output("list_dir", { path: "/src", recursive: true })).toBe("index.ts\nlib/\nlib/glob.ts\nlib/jwt.ts");
  });

  it("answers for an empty root, a missing directory and a file", () => {
    const { output, run } = tools(files);
    expect(tools().output("list_dir", { path: "/" })).toBe("(empty directory)");
    expect(failure(run("list_dir", { path: "/nope" })).code).toBe("file_not_found");
    expect(failure(run("list_dir", { path: "/README.md" })).message).toMatch(/is a file/);
    expect(output("list_dir", { path: "/src/lib/.." })).toBe("index.ts\nlib/");
  });

  it("caps huge listings", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_LISTED_ENTRIES + 5 }, (_, i) => [`/f/${String(i).padStart(5, "0")}`, ""]));
    const lines = tools(many).output("list_dir", { path: "/f" }).split("\n");
    expect(lines).toHaveLength(MAX_LISTED_ENTRIES + 1);
    expect(lines.at(-1)).toMatch(/5 more entries not shown/);
  });
});

describe("glob", () => {
  const files = { "/a.ts": "", "/src/b.ts": "", "/src/deep/c.ts": "", "/src/d.md": "" };

  it("matches absolute patterns", () => {
    const { output } = tools(files);
    expect(output("glob", { pattern: "/**/*.ts" })).toBe("/a.ts\n/src/b.ts\n/src/deep/c.ts");
    expect(output("glob", { pattern: "/src/*" })).toBe("/src/b.ts\n/src/d.md");
  });

  it("takes relative patterns from path (default /)", () => {
    const { output } = tools(files);
    expect(output("glob", { pattern: "*.ts" })).toBe("/a.ts");
    expect(output("glob", { pattern: "**/*.ts", path: "/src" })).toBe("/src/b.ts\n/src/deep/c.ts");
    expect(output("glob", { pattern: "./*.md", path: "/src/deep/.." })).toBe("/src/d.md");
  });

  it("says when nothing matches", () => {
    expect(tools(files).output("glob", { pattern: "**/*.rs" })).toBe("(no matches)");
  });
});

describe("grep", () => {
  const files = {
    "/src/a.ts": "import x from 'y';\nconst TODO = 1;\r\n// todo: later\n",
    "/src/b.md": "TODO list\n",
    "/docs/c.ts": "nothing here\n",
  };

  it("answers file:line: text", () => {
    expect(tools(files).output("grep", { pattern: "TODO" })).toBe("/src/a.ts:2: const TODO = 1;\n/src/b.md:1: TODO list");
  });

  it("honours ignoreCase, path and glob", () => {
    const { output } = tools(files);
    expect(output("grep", { pattern: "todo", ignoreCase: true, glob: "*.ts" })).toBe("/src/a.ts:2: const TODO = 1;\n/src/a.ts:3: // todo: later");
    expect(output("grep", { pattern: "o", path: "/docs" })).toBe("/docs/c.ts:1: nothing here");
    expect(output("grep", { pattern: "TODO", path: "/src/b.md" })).toBe("/src/b.md:1: TODO list");
    expect(output("grep", { pattern: "TODO", glob: "/src/*.md" })).toBe("/src/b.md:1: TODO list");
    expect(output("grep", { pattern: "TODO", path: "/src", glob: "*.md" })).toBe("/src/b.md:1: TODO list");
    expect(output("grep", { pattern: "zzz" })).toBe("(no matches)");
  });

  it("stops at maxResults and says there are more", () => {
    const lines = tools({ "/many": "hit\n".repeat(100) }).output("grep", { pattern: "hit", maxResults: 3 }).split("\n");
    expect(lines).toEqual(["/many:1: hit", "/many:2: hit", "/many:3: hit", "[showing the first 3 matches; there are more]"]);
  });

  it("does not claim more when the results fit exactly", () => {
    expect(tools({ "/few": "hit\nhit\n" }).output("grep", { pattern: "hit", maxResults: 2 })).toBe("/few:1: hit\n/few:2: hit");
  });

  it("clips very long lines", () => {
    const out = tools({ "/long": "x".repeat(10_000) + "needle" }).output("grep", { pattern: "needle" });
    expect(out.length).toBeLessThan(600);
  });

  it("answers an invalid regex with an error result", () => {
    const result = failure(tools(files).run("grep", { pattern: "(unclosed" }));
    expect(result.code).toBe("tool_error");
    expect(result.message).toMatch(/Invalid regular expression/);
  });

  it("stops scanning after its byte budget", () => {
    const big = "a".repeat(MAX_FILE_BYTES);
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`/big/${String(i).padStart(2, "0")}`, big]));
    const out = tools(many).output("grep", { pattern: "b" });
    expect(out).toMatch(/stopped after searching 16 MiB/);
  });
});

describe("fs scopes", () => {
  const files = { "/work/a.txt": "work", "/work/sub/b.txt": "sub", "/secret/key": "hunter2", "/pub/readme": "hello" };
  const scopes: FsScope[] = [
    { path: "/work/**", mode: "rw" },
    { path: "/pub/**", mode: "r" },
  ];

  it("lets reads through r and rw scopes", () => {
    const { output } = tools(files, scopes);
    expect(output("read_file", { path: "/work/a.txt" })).toBe("work");
    expect(output("read_file", { path: "/pub/readme" })).toBe("hello");
  });

  it("denies reads outside every scope, even through ..", () => {
    const { run } = tools(files, scopes);
    for (const path of ["/secret/key", "/work/../secret/key", "/pub/../../secret/key"]) {
      expect(failure(run("read_file", { path }))).toEqual({
        ok: false,
        code: "permission_denied",
        message: expect.stringMatching(/outside/),
        path: "/secret/key",
      });
    }
    // Denied before existence is looked at: a missing file is denied the same way.
    expect(failure(run("read_file", { path: "/secret/missing" })).code).toBe("permission_denied");
  });

  it("denies writes, edits and deletes without rw, writing nothing", () => {
    const { run, store } = tools(files, scopes);
    const attempts: [string, unknown][] = [
      ["write_file", { path: "/pub/readme", content: "pwned" }],
      ["write_file", { path: "/secret/new", content: "x" }],
      ["write_file", { path: "/work/../secret/key", content: "x" }],
      ["edit_file", { path: "/pub/readme", oldText: "hello", newText: "bye" }],
      ["delete_file", { path: "/pub/readme" }],
      ["delete_file", { path: "/secret/key" }],
    ];
    for (const [name, args] of attempts) expect(failure(run(name, args)).code).toBe("permission_denied");
    expect(store.writes).toBe(0);
    expect(store.files.get("/pub/readme")).toBe("hello");
  });

  it("denies everything with no scopes", () => {
    const { run } = tools(files, []);
    expect(failure(run("read_file", { path: "/work/a.txt" })).code).toBe("permission_denied");
    expect(failure(run("list_dir", { path: "/" })).code).toBe("permission_denied");
    expect(failure(run("grep", { pattern: "." })).code).toBe("permission_denied");
    expect(failure(run("glob", { pattern: "/**" })).code).toBe("permission_denied");
  });

  it("filters list_dir, glob and grep to readable files", () => {
    const { output } = tools(files, scopes);
    expect(output("list_dir", { path: "/" })).toBe("pub/\nwork/");
    expect(output("list_dir", { path: "/", recursive: true })).toBe("pub/\npub/readme\nwork/\nwork/a.txt\nwork/sub/\nwork/sub/b.txt");
    expect(output("glob", { pattern: "/**" })).toBe("/pub/readme\n/work/a.txt\n/work/sub/b.txt");
    expect(output("grep", { pattern: "." })).not.toMatch(/secret|hunter2/);
    expect(output("grep", { pattern: "hunter2" })).toBe("(no matches)");
  });

  it("denies searching where no scope reaches", () => {
    const { run } = tools(files, scopes);
    expect(failure(run("list_dir", { path: "/secret" }))).toMatchObject({ code: "permission_denied", path: "/secret" });
    expect(failure(run("glob", { pattern: "/secret/**" }))).toMatchObject({ code: "permission_denied", path: "/secret" });
    expect(failure(run("grep", { pattern: "h", path: "/secret" })).code).toBe("permission_denied");
    expect(failure(run("grep", { pattern: "h", path: "/work/../secret/key" })).code).toBe("permission_denied");
  });

  it("file-level scopes", () => {
    const { output, run } = tools(files, [{ path: "/work/*.txt", mode: "r" }]);
    expect(output("list_dir", { path: "/work" })).toBe("a.txt");
    expect(output("list_dir", { path: "/" })).toBe("work/");
    expect(failure(run("list_dir", { path: "/work/sub" })).code).toBe("file_not_found");
    expect(failure(run("read_file", { path: "/work/sub/b.txt" })).code).toBe("permission_denied");
    expect(failure(run("write_file", { path: "/work/a.txt", content: "x" })).code).toBe("permission_denied");
  });
});

describe("whole-workspace operations", () => {
  it("map failures to HTTP statuses", () => {
    const store = new MemoryStore({ "/d/x": "1" });
    expect(readFile(store, "nope")).toMatchObject({ ok: false, error: { status: 400, code: "invalid_request" } });
    expect(readFile(store, "/nope")).toMatchObject({ ok: false, error: { status: 404, code: "file_not_found" } });
    expect(writeFile(store, "/big", "a".repeat(MAX_FILE_BYTES + 1))).toMatchObject({ ok: false, error: { status: 413, code: "payload_too_large" } });
    expect(writeFile(store, "/d", "x")).toMatchObject({ ok: false, error: { status: 409, code: "conflict" } });
    expect(writeFile(store, "/d/../e", "é")).toEqual({ ok: true, value: { path: "/e", bytes: 2 } });
    expect(globFiles(store, "**")).toEqual({ ok: true, value: ["/d/x", "/e"] });
    expect(globFiles(store, "")).toMatchObject({ ok: false, error: { status: 400 } });
    expect(globFiles(store, "*".repeat(MAX_GLOB_LENGTH + 1))).toMatchObject({ ok: false, error: { status: 400, code: "invalid_request" } });
  });
});

/**
 * Patterns run in bounded time. These inputs hung the run when globs were backtracking RegExps and
 * grep used `new RegExp`. There are no timing assertions: matching is synchronous, so a regression
 * hangs the run (no test timeout can interrupt it) and fails it there.
 */
describe("patterns run in bounded time", () => {
  const as = (n: number) => "a".repeat(n);
  const evilGlob = "*a*a*a*a*a*a*a*a*a*a*a*a*b";

  it("grep with catastrophic regexes answers at once", () => {
    const { output } = tools({ "/as.txt": `${as(5000)}\n${as(5000)}b\n`, "/other.txt": "c\n" });
    expect(output("grep", { pattern: "(a+)+$" })).toBe(`/as.txt:1: ${as(500)}…`);
    expect(output("grep", { pattern: "^(a+)+$" })).toBe(`/as.txt:1: ${as(500)}…`);
    expect(output("grep", { pattern: "(a|aa)*c" })).toBe("/other.txt:1: c");
    expect(output("grep", { pattern: "^(a|aa)+$" })).toBe(`/as.txt:1: ${as(500)}…`);
    expect(output("grep", { pattern: "^(a*)*b" })).toBe(`/as.txt:2: ${as(500)}…`);
    // (a?)+ also matches the empty last "lines" after each file's final newline.
    expect(output("grep", { pattern: "^(A|a?)+$", ignoreCase: true })).toBe(`/as.txt:1: ${as(500)}…\n/as.txt:3: \n/other.txt:2: `);
    expect(output("grep", { pattern: "(x+x+)+y" })).toBe("(no matches)");
  });

  it("grep refuses lookaround and backreferences with a clear error", () => {
    const { run } = tools({ "/a": "foo bar\n" });
    for (const pattern of ["foo(?=bar)", "foo(?! )", "(?<=foo) bar", "(?<!x)foo", "(o)\\1"]) {
      const result = failure(run("grep", { pattern }));
      expect(result.code).toBe("tool_error");
      expect(result.message).toMatch(/^Invalid regular expression: .*no lookahead, lookbehind or backreferences/);
    }
  });

  it("grep refuses over-long and over-complex patterns", () => {
    const { run } = tools({ "/a": "x\n" });
    expect(failure(run("grep", { pattern: "a".repeat(MAX_GREP_PATTERN_LENGTH + 1) })).code).toBe("invalid_arguments");
    const complex = failure(run("grep", { pattern: "(a?){1000}a{1000}" }));
    expect(complex.code).toBe("tool_error");
    expect(complex.message).toMatch(/^Invalid regular expression: the pattern is too complex \(it compiles to \d+ instructions; the limit is 1000\)/);
    expect(compileGrepPattern("x{900}", false)).toMatchObject({ ok: true });
    expect(compileGrepPattern("x{1000}", false)).toMatchObject({ ok: false });
  });

  it("grep keeps RE2 semantics close to what agents expect", () => {
    const { output } = tools({ "/a.ts": "const fooBar = 1;\nlet x_2 = foo(3);\n\tTODO\n" });
    expect(output("grep", { pattern: "\\bfoo\\w*\\s*=" })).toBe("/a.ts:1: const fooBar = 1;");
    expect(output("grep", { pattern: "FOO\\(\\d\\)", ignoreCase: true })).toBe("/a.ts:2: let x_2 = foo(3);");
    expect(output("grep", { pattern: "(?P<name>x)_(?<n>\\d)" })).toBe("/a.ts:2: let x_2 = foo(3);");
    expect(output("grep", { pattern: "^\\s+todo$", ignoreCase: true })).toBe("/a.ts:3: \tTODO");
    expect(output("grep", { pattern: "a/b|\\/x" })).toBe("(no matches)");
  });

  it("grep stops at its work budget when the pattern is expensive, saying so", () => {
    const pattern = "x{900}y";
    const compiled = compileGrepPattern(pattern, false);
    if (!compiled.ok) throw new Error(compiled.message);
    const allowed = Math.floor(MAX_GREP_WORK / compiled.instructions);
    const line = "x".repeat(999);
    const lines = Math.ceil(allowed / 1000) + 10;
    const out = tools({ "/a": "x".repeat(900) + "y\n", "/b": `${line}\n`.repeat(lines) }).output("grep", { pattern });
    const [hit, note, ...rest] = out.split("\n");
    expect(hit).toBe(`/a:1: ${"x".repeat(500)}…`);
    expect(rest).toEqual([]);
    // "/a" is 902 characters and an empty last line; then 1000 per line of "/b".
    const linesOfB = Math.floor((allowed - 903) / 1000);
    expect(note).toBe(
      `[stopped at /b:${linesOfB + 1} after searching ${903 + 1000 * linesOfB} characters: a pattern that compiles to ${compiled.instructions} instructions may search ${allowed} characters per call; simplify the pattern, or narrow the path or glob]`,
    );
    expect(compiled.instructions).toBeLessThanOrEqual(MAX_GREP_INSTRUCTIONS);
  });

  it("glob, grep's glob filter and fs scopes match adversarial globs at once", () => {
    const files = { [`/${as(200)}`]: "hit\n", [`/d/${as(300)}b`]: "hit\n", "/d/e/f.txt": "hit\n" };
    const { output } = tools(files);
    expect(output("glob", { pattern: `/${evilGlob}` })).toBe("(no matches)");
    expect(output("glob", { pattern: `/**/${evilGlob}` })).toBe(`/d/${as(300)}b`);
    expect(output("glob", { pattern: "**/**/**/**/**/**/*b" })).toBe(`/d/${as(300)}b`);
    expect(output("grep", { pattern: "hit", glob: evilGlob })).toBe(`/d/${as(300)}b:1: hit`);
    expect(output("grep", { pattern: "hit", glob: `**/**/**/**/**/**/${evilGlob}` })).toBe(`/d/${as(300)}b:1: hit`);

    const scoped = tools(files, [
      { path: `/**/${evilGlob}`, mode: "r" },
      { path: `/*a*a*a*a*a*a*a*a*a*a*a*a*a/**`, mode: "rw" },
    ]);
    expect(scoped.output("glob", { pattern: "/**" })).toBe(`/${as(200)}\n/d/${as(300)}b`);
    expect(scoped.output("grep", { pattern: "hit" })).toBe(`/${as(200)}:1: hit\n/d/${as(300)}b:1: hit`);
    expect(failure(scoped.run("write_file", { path: `/d/${as(300)}b`, content: "x" })).code).toBe("permission_denied");
    expect(globFiles(scoped.store, evilGlob)).toEqual({ ok: true, value: [] });
    expect(globFiles(scoped.store, `**/${evilGlob}`)).toEqual({ ok: true, value: [`/d/${as(300)}b`] });
  });
});
