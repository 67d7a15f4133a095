import { describe, expect, it } from "vitest";
import { MAX_FILE_BYTES } from "../../src/contracts/tools";
import { exports } from "cloudflare:workers";
import { client, freshTenant, tokenFor } from "../support/http";

const MiB = MAX_FILE_BYTES;

/** A PUT with a raw body: the support client JSON-encodes anything that is not a string. */
async function putRaw(tenant: string, path: string, body: BodyInit) {
  const headers = { authorization: `Bearer ${await tokenFor(tenant, "operator")}` };
  return exports.default.fetch(new Request(`http://kernel.test${path}`, { method: "PUT", headers, body }));
}

describe("files over HTTP", () => {
  it("round-trips a file whatever its content type", async () => {
    const api = client(freshTenant(), "operator");
    const text = '{"not": "parsed"} héllo 😀\n';
    const put = await api.call("PUT", "/v1/fs/notes/today.md", text, { "content-type": "application/octet-stream" });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ path: "/notes/today.md", bytes: new TextEncoder().encode(text).length });

    const got = await api.call("GET", "/v1/fs/notes/today.md");
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await got.text()).toBe(text);

    expect((await api.put("/v1/fs/notes/today.md", "v2")).status).toBe(200);
    expect(await (await api.call("GET", "/v1/fs/notes/today.md")).text()).toBe("v2");
  });

  it("keeps a byte order mark as part of the text", async () => {
    const tenant = freshTenant();
    expect((await putRaw(tenant, "/v1/fs/bom.txt", new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]))).status).toBe(200);
    const got = await client(tenant).call("GET", "/v1/fs/bom.txt");
    expect([...new Uint8Array(await got.arrayBuffer())]).toEqual([0xef, 0xbb, 0xbf, 0x68, 0x69]); // text() would strip it
  });

  it("stores an empty body as an empty file", async () => {
    const api = client(freshTenant(), "operator");
    expect(await api.call("PUT", "/v1/fs/empty")).toHaveProperty("status", 200);
    const got = await api.call("GET", "/v1/fs/empty");
    expect(got.status).toBe(200);
    expect(await got.text()).toBe("");
  });

  it("lists files by glob, defaulting to everything", async () => {
    const api = client(freshTenant(), "operator");
    for (const path of ["/a.md", "/docs/b.md", "/docs/c.txt"]) await api.put(`/v1/fs${path}`, "x");
    expect(await api.get("/v1/fs")).toEqual({ status: 200, body: ["/a.md", "/docs/b.md", "/docs/c.txt"] });
    expect(await api.get("/v1/fs?glob=")).toEqual({ status: 200, body: ["/a.md", "/docs/b.md", "/docs/c.txt"] });
    expect(await api.get("/v1/fs?glob=/**/*.md")).toEqual({ status: 200, body: ["/a.md", "/docs/b.md"] });
    expect(await api.get(`/v1/fs?glob=${encodeURIComponent("docs/*")}`)).toEqual({ status: 200, body: ["/docs/b.md", "/docs/c.txt"] });
    expect(await api.get("/v1/fs/")).toEqual({ status: 200, body: ["/a.md", "/docs/b.md", "/docs/c.txt"] });
  });

  it("answers 404 file_not_found for missing files and directories", async () => {
    const api = client(freshTenant(), "operator");
    await api.put("/v1/fs/dir/file", "x");
    for (const path of ["/v1/fs/missing.txt", "/v1/fs/dir"]) {
      const res = await api.get(path);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("file_not_found");
    }
    expect((await api.del("/v1/fs/missing.txt")).body.error.code).toBe("file_not_found");
  });

  it("deletes files", async () => {
    const api = client(freshTenant(), "operator");
    await api.put("/v1/fs/gone.txt", "x");
    expect(await api.del("/v1/fs/gone.txt")).toEqual({ status: 200, body: { path: "/gone.txt" } });
    expect((await api.get("/v1/fs/gone.txt")).status).toBe(404);
    expect((await api.get("/v1/fs")).body).toEqual([]);
  });

  it("answers 409 when a file and a directory would share a path", async () => {
    const api = client(freshTenant(), "operator");
    await api.put("/v1/fs/a", "file");
    expect(await api.put("/v1/fs/a/b", "x")).toMatchObject({ status: 409, body: { error: { code: "conflict" } } });
  });

  it("answers 400 for undecodable or NUL paths and for the root", async () => {
    const api = client(freshTenant(), "operator");
    for (const path of ["/v1/fs/bad%zzpath", "/v1/fs/a%00b", "/v1/fs/a%0Ab"]) {
      expect(await api.put(path, "x")).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    }
    expect((await api.put("/v1/fs", "x")).status).toBe(400);
    expect((await api.put("/v1/fs/", "x")).status).toBe(400);
    expect((await api.get("/v1/fs")).body).toEqual([]);
  });
});

describe("paths never escape the workspace root", () => {
  it("clamps raw .. segments", async () => {
    const api = client(freshTenant(), "operator");
    // The URL parser resolves these before routing; whatever route they reach, no 5xx and nothing leaks.
    const res = await api.put("/v1/fs/a/../../../../etc/passwd", "x");
    expect(res.status).toBeLessThan(500);
    expect(res.status).not.toBe(200);
  });

  it("clamps percent-encoded dots and slashes", async () => {
    const tenant = freshTenant();
    const api = client(tenant, "operator");
    const put = await api.put("/v1/fs/a/..%2f..%2f..%2f..%2fescaped.txt", "inside");
    expect(put).toEqual({ status: 200, body: { path: "/escaped.txt", bytes: 6 } });
    expect(await (await api.call("GET", "/v1/fs/escaped.txt")).text()).toBe("inside");

    const dots = await api.put("/v1/fs/x/%2e%2e%2F%2E%2E%2fdots.txt", "d");
    expect(dots).toEqual({ status: 200, body: { path: "/dots.txt", bytes: 1 } });
    expect(await (await api.call("GET", "/v1/fs/sub%2F..%2F..%2Fdots.txt")).text()).toBe("d");
    expect((await api.get("/v1/fs")).body).toEqual(["/dots.txt", "/escaped.txt"]);
  });

  it("decodes exactly once", async () => {
    const api = client(freshTenant(), "operator");
    expect((await api.put("/v1/fs/%252e%252e/x", "y")).body).toEqual({ path: "/%2e%2e/x", bytes: 1 });
    expect((await api.put("/v1/fs/with%20space.txt", "y")).body).toEqual({ path: "/with space.txt", bytes: 1 });
  });

  it("cannot reach another tenant's files by path tricks", async () => {
    const a = client(freshTenant("a"), "operator");
    const bTenant = freshTenant("b");
    const b = client(bTenant, "operator");
    await b.put("/v1/fs/secret.txt", "b's");
    for (const path of ["/v1/fs/..%2f" + bTenant + "%2fsecret.txt", "/v1/fs/secret.txt"]) {
      expect((await a.get(path)).status).toBe(404);
    }
  });
});

describe("size limits", () => {
  it("accepts exactly 1 MiB", async () => {
    const api = client(freshTenant(), "operator");
    const res = await api.put("/v1/fs/max.txt", "a".repeat(MiB));
    expect(res).toEqual({ status: 200, body: { path: "/max.txt", bytes: MiB } });
    expect((await (await api.call("GET", "/v1/fs/max.txt")).text()).length).toBe(MiB);
  });

  it("refuses 1 MiB + 1 with 413 and stores nothing", async () => {
    const api = client(freshTenant(), "operator");
    const res = await api.put("/v1/fs/over.txt", "a".repeat(MiB + 1));
    expect(res).toMatchObject({ status: 413, body: { error: { code: "payload_too_large" } } });
    expect((await api.get("/v1/fs/over.txt")).status).toBe(404);
  });

  it("refuses a 10 MB body with 413", async () => {
    const api = client(freshTenant(), "operator");
    const res = await api.put("/v1/fs/huge.txt", "a".repeat(10_000_000));
    expect(res).toMatchObject({ status: 413, body: { error: { code: "payload_too_large" } } });
    expect((await api.get("/v1/fs")).body).toEqual([]);
  });

  it("refuses a streamed body over 1 MiB with 413", async () => {
    const tenant = freshTenant();
    const api = client(tenant, "operator");
    const chunk = new TextEncoder().encode("a".repeat(256 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 5) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await putRaw(tenant, "/v1/fs/streamed.txt", body);
    expect(res.status).toBe(413);
    expect((await api.get("/v1/fs")).body).toEqual([]);
  });

  it("refuses text that grows past 1 MiB when invalid UTF-8 is decoded", async () => {
    const tenant = freshTenant();
    const api = client(tenant, "operator");
    const bytes = new Uint8Array(MiB).fill(0xff); // each byte decodes to U+FFFD, three bytes
    const res = await putRaw(tenant, "/v1/fs/binary", bytes);
    expect(res.status).toBe(413);
    expect((await api.get("/v1/fs/binary")).status).toBe(404);
  });
});

describe("roles and tenants", () => {
  it("lets a viewer read but not write or delete", async () => {
    const tenant = freshTenant();
    await client(tenant, "operator").put("/v1/fs/r.txt", "read me");
    const viewer = client(tenant, "viewer");
    expect(await (await viewer.call("GET", "/v1/fs/r.txt")).text()).toBe("read me");
    expect((await viewer.get("/v1/fs")).body).toEqual(["/r.txt"]);
    expect(await viewer.put("/v1/fs/r.txt", "overwrite")).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(await viewer.put("/v1/fs/new.txt", "x")).toMatchObject({ status: 403 });
    expect(await viewer.del("/v1/fs/r.txt")).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(await (await viewer.call("GET", "/v1/fs/r.txt")).text()).toBe("read me");
  });

  it("lets admins write", async () => {
    expect((await client(freshTenant(), "admin").put("/v1/fs/a", "x")).status).toBe(200);
  });

  it("keeps tenants' files apart", async () => {
    const a = client(freshTenant("a"), "operator");
    const b = client(freshTenant("b"), "operator");
    await a.put("/v1/fs/private.txt", "A only");
    expect(await b.get("/v1/fs/private.txt")).toMatchObject({ status: 404, body: { error: { code: "file_not_found" } } });
    expect((await b.get("/v1/fs")).body).toEqual([]);
    expect((await b.del("/v1/fs/private.txt")).status).toBe(404);
    expect(await (await a.call("GET", "/v1/fs/private.txt")).text()).toBe("A only");
  });

  it("requires a token", async () => {
    const res = await exports.default.fetch(new Request("http://kernel.test/v1/fs/x.txt"));
    expect(res.status).toBe(401);
  });
});
