import { describe, expect, it } from "vitest";
import { admissionProblem, type AdmissionFacts } from "../../src/kernel/admission";

const base: AdmissionFacts = { agent: "a", live: 0, maxLive: 10, singletonPid: null, parent: null, delegation: false };
const parent = { pid: 7, depth: 1, limits: { maxChildren: 2, maxDepth: 3 }, startedChildren: 0 };
const codeOf = (f: Partial<AdmissionFacts>) => admissionProblem({ ...base, ...f })?.error;

describe("admissionProblem", () => {
  it("admits within every limit", () => {
    expect(admissionProblem(base)).toBeNull();
    expect(codeOf({ parent })).toBeUndefined();
  });

  it("refuses at the tenant cap, before anything else", () => {
    expect(codeOf({ live: 10, singletonPid: 3 })).toMatchObject({ status: 429, code: "too_many_processes" });
  });

  it("refuses a second live singleton, naming the live pid", () => {
    expect(codeOf({ singletonPid: 3 })).toMatchObject({ status: 409, code: "process_already_running", details: { pid: 3 } });
  });

  it("refuses a child deeper than the parent's maxDepth", () => {
    expect(codeOf({ parent: { ...parent, depth: 3 } })).toMatchObject({ status: 422, code: "limit_exceeded", details: { limit: "maxDepth" } });
    expect(codeOf({ parent: { ...parent, depth: 2 } })).toBeUndefined();
  });

  it("refuses a plain spawn under a full parent but lets a delegation queue", () => {
    const full = { ...parent, startedChildren: 2 };
    expect(codeOf({ parent: full })).toMatchObject({ status: 422, details: { limit: "maxChildren", maxChildren: 2 } });
    expect(codeOf({ parent: full, delegation: true })).toBeUndefined();
  });
});
