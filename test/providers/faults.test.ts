import { describe, expect, it } from "vitest";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit, type Client } from "../support/agents";
import { fakeLog, modelId, procRows, untilLog, type ProviderKey } from "./helpers";

async function run(api: Client, agent: string, model: string) {
  await register(api, agent, { model });
  const p = await spawn(api, agent);
  return { pid: p.pid, status: await waitExit(api, p.pid) };
}

const eventsOf = async (api: Client, pid: number) => (await api.call("GET", `/v1/procs/${pid}/events`)).text();

/** The `model` events that report a failed call, as `{error, status, retryAt}`. */
async function modelErrors(api: Client, pid: number) {
  const text = await eventsOf(api, pid);
  return [...text.matchAll(/event: model\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!)).filter((d) => d.error !== undefined);
}

describe("429: retried after retry-after", () => {
  const cases: Array<[ProviderKey, string, number]> = [
    ["openai", "fail-429", 1000], // retry-after: 1 (seconds)
    ["anthropic", "fail-429-ms", 1200], // retry-after-ms: 1200
    ["openai-compatible", "fail-429-date", 1000], // retry-after: <HTTP date 2 s ahead> (1 s resolution)
  ];
  it.each(cases)("%s %s: waits at least %i ms, then succeeds", async (provider, behaviour, minGap) => {
    const api = client(freshTenant());
    const model = modelId(behaviour);
    const { pid, status } = await run(api, "limited", `${provider}:${model}`);
    expect(status).toMatchObject({ code: 0, result: "recovered" });
    const log = await fakeLog(provider, model);
    expect(log.map((e) => e.reply?.status)).toEqual([429, 200]);
    // The loop's own first backoff is 500 ms: the longer retry-after won.
    expect(log[1]!.at - log[0]!.at).toBeGreaterThanOrEqual(minGap - 50);
    const [error] = await modelErrors(api, pid);
    expect(error).toMatchObject({ status: 429 });
    expect(error.error).toMatch(new RegExp(`^${provider}: 429 Too Many Requests: `));
  });
});

describe("persistent failures", () => {
  it("persistent 500: exactly 4 requests, then exit 1 naming the provider and the status", async () => {
    const api = client(freshTenant());
    const providers: ProviderKey[] = ["openai", "openai-compatible", "anthropic"];
    const models = providers.map(() => modelId("fail-500"));
    const runs = await Promise.all(providers.map((provider, i) => run(api, `broken-${i}`, `${provider}:${models[i]}`)));
    for (const [i, provider] of providers.entries()) {
      expect(runs[i]!.status).toMatchObject({ code: 1, reason: `model failed after 3 retries: ${provider}: 500 Internal Server Error: upstream exploded` });
      const log = await fakeLog(provider, models[i]!);
      expect(log.map((e) => e.reply?.status)).toEqual([500, 500, 500, 500]);
      // Exponential backoff between the attempts: 500, 1000, 2000 ms.
      const gaps = log.slice(1).map((e, j) => e.at - log[j]!.at);
      expect(gaps[0]).toBeGreaterThanOrEqual(450);
      expect(gaps[1]).toBeGreaterThanOrEqual(950);
      expect(gaps[2]).toBeGreaterThanOrEqual(1950);
    }
  });

  it("a 4xx other than 429 is not retried", async () => {
    const api = client(freshTenant());
    const model = modelId("fail-400");
    const { status } = await run(api, "bad", `anthropic:${model}`);
    expect(status).toMatchObject({ code: 1, reason: "model failed: anthropic: 400 Bad Request: messages: bad shape" });
    expect(await fakeLog("anthropic", model)).toHaveLength(1);
  });

  it("malformed answers (bad JSON, missing fields) are model errors, not crashes", async () => {
    const api = client(freshTenant());
    const cases: Array<[ProviderKey, string]> = [
      ["openai", "malformed"],
      ["anthropic", "malformed"],
      ["openai-compatible", "missing-fields"],
      ["anthropic", "missing-fields"],
    ];
    const models = cases.map(([, behaviour]) => modelId(behaviour));
    const runs = await Promise.all(cases.map(([provider], i) => run(api, `garbled-${i}`, `${provider}:${models[i]}`)));
    for (const [i, [provider]] of cases.entries()) {
      // Retried as a bad gateway would be (a cut stream is often transient), then exit 1 with a reason.
      expect(runs[i]!.status).toMatchObject({ code: 1 });
      expect(runs[i]!.status.reason).toMatch(new RegExp(`^model failed after 3 retries: ${provider}: invalid response: `));
      expect(await fakeLog(provider, models[i]!)).toHaveLength(4);
      const [error] = await modelErrors(api, runs[i]!.pid);
      expect(error).toMatchObject({ status: 502 });
    }
    // The tenant's kernel and the processes' rows are intact.
    const list = await api.get("/v1/procs");
    expect(list.status).toBe(200);
    expect(procRows(list.body).map((p) => [p.pid, p.state, p.exit?.code])).toEqual(runs.map((r) => [r.pid, "stopped", 1]));
  });
});

describe("cancellation and timeouts", () => {
  it.each<ProviderKey>(["openai", "anthropic"])("%s: kill aborts a hanging request (the server sees the connection close)", async (provider) => {
    const api = client(freshTenant());
    const model = modelId("hang");
    await register(api, "stuck", { model: `${provider}:${model}` });
    const p = await spawn(api, "stuck");
    await untilLog(provider, model, (log) => log.length === 1);
    expect((await fakeLog(provider, model))[0]!.closedEarly).toBe(false);
    const killed = await api.post(`/v1/procs/${p.pid}/kill`, {});
    expect(killed.body).toMatchObject({ killed: [p.pid] });
    expect(await waitExit(api, p.pid)).toMatchObject({ code: -15 });
    const [entry] = await untilLog(provider, model, (log) => log[0]!.closedEarly, 5_000);
    // Closed well before MODEL_TIMEOUT_MS (2 s) could have done it.
    expect(Date.now() - entry!.at).toBeLessThan(10_000);
    expect(await fakeLog(provider, model)).toHaveLength(1);
  });

  it("a response slower than MODEL_TIMEOUT_MS is abandoned and retried", async () => {
    const api = client(freshTenant());
    const model = modelId("slow-once");
    const { pid, status } = await run(api, "patient", `openai:${model}`);
    expect(status).toMatchObject({ code: 0, result: "on time" });
    const log = await fakeLog("openai", model);
    expect(log).toHaveLength(2);
    expect(log[0]!.closedEarly).toBe(true);
    expect(log[0]!.reply).toBeNull();
    // MODEL_TIMEOUT_MS is 2000 in the tests (vitest globalSetup), then the 500 ms backoff.
    expect(log[1]!.at - log[0]!.at).toBeGreaterThanOrEqual(2400);
    const [error] = await modelErrors(api, pid);
    expect(error).toMatchObject({ status: 504, error: "openai: timed out: no answer within 2000 ms (MODEL_TIMEOUT_MS)" });
  });
});
