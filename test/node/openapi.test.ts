/**
 * The OpenAPI document (SPEC §13) checked where a full validator can run. The validator
 * (@seriousme/openapi-schema-validator, on Ajv) compiles schemas to code with `new Function`, which
 * workerd forbids, so this runs in Node: the app is built in-process (`createApp()` needs no bindings
 * to describe itself) and `GET /openapi.json` is answered without a Durable Object. The workerd side
 * (test/api/openapi.test.ts) checks the same document against the routes and real answers.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/routes/app";

async function documentOf() {
  const res = await createApp().request("/openapi.json");
  expect(res.status).toBe(200);
  return (await res.json()) as { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>>; components: { securitySchemes: Record<string, unknown> } };
}

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const doc = await documentOf();
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)?.slice(0, 4000)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // Every $ref resolves.
    expect(() => validator.resolveRefs()).not.toThrow();
    // And the validator is not a rubber stamp: a broken copy fails.
    const broken = structuredClone(doc) as Record<string, unknown>;
    delete broken.info;
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it("declares every path parameter of every templated path, and the bearer scheme", async () => {
    const doc = await documentOf();
    for (const [path, item] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
        expect(declared.sort(), `${method} ${path}`).toEqual([...names].sort());
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
  });

  it("serves /docs as a self-contained page that names every operation", async () => {
    const app = createApp();
    const doc = await documentOf();
    const res = await app.request("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).not.toMatch(/<script|https?:\/\/(?!127)/i); // nothing loaded from anywhere
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) expect(html, `${method} ${path}`).toContain(`id="${`${method} ${path}`.toLowerCase().replace(/[^a-z0-9]+/g, "-")}"`);
    }
  });
});
