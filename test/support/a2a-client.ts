/**
 * The official A2A client (`@a2a-js/sdk`) wired to the Worker under test: its `fetch` is the Worker's
 * own with a bearer token added, so every call goes through the real routes, auth, kernel and process
 * objects. Requests are the SDK's typed objects; nothing here writes A2A JSON by hand.
 */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { Role, type Message, type Part, type Task } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from "@a2a-js/sdk/client";
import type { Role as KernelRole } from "../../src/contracts";
import { tokenFor } from "./http";

export const BASE = "http://kernel.test";

/** The Worker's fetch with the tenant's bearer token (or none, or a bad one). */
export function authedFetch(token: string | null): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (token !== null) request.headers.set("authorization", `Bearer ${token}`);
    return exports.default.fetch(request);
  }) as typeof fetch;
}

/** A client factory over `fetchImpl`; `legacy` lets its transport speak the 0.3 method names. */
export function factoryFor(fetchImpl: typeof fetch, legacy = false): ClientFactory {
  return new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl, ...(legacy ? { legacyCompat: { enabled: true } } : {}) })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
    }),
  );
}

/** A client of `agent` for a token of `tenant` with `role`, found from its card; `legacy`: through the card's 0.3 interface. */
export async function a2a(tenant: string, agent: string, role: KernelRole = "operator", legacy = false): Promise<Client> {
  const fetchImpl = authedFetch(await tokenFor(tenant, role));
  const factory = factoryFor(fetchImpl, legacy);
  if (!legacy) return factory.createFromUrl(`${BASE}/a2a/${agent}/`);
  const card = await new DefaultAgentCardResolver({ fetchImpl }).resolve(`${BASE}/a2a/${agent}/`);
  return factory.createFromAgentCard({ ...card, supportedInterfaces: card.supportedInterfaces.filter((i) => i.protocolVersion === "0.3") });
}

let n = 0;
export const textPart = (text: string): Part => ({ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" });
export const dataPart = (value: unknown): Part => ({ content: { $case: "data", value }, metadata: undefined, filename: "", mediaType: "application/json" });
export const userMessage = (parts: Part[] | string, extra: Partial<Message> = {}): Message => ({
  messageId: `msg-${Date.now().toString(36)}-${n++}`,
  contextId: "",
  taskId: "",
  role: Role.ROLE_USER,
  parts: typeof parts === "string" ? [textPart(parts)] : parts,
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
  ...extra,
});
export const send = (message: Message, configuration?: { returnImmediately?: boolean; historyLength?: number }) => ({
  tenant: "",
  message,
  configuration: configuration
    ? { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately: configuration.returnImmediately ?? false, ...(configuration.historyLength !== undefined ? { historyLength: configuration.historyLength } : {}) }
    : undefined,
  metadata: undefined,
});
export const asTask = (result: unknown): Task => {
  expect(result).toHaveProperty("status");
  return result as Task;
};
/** The text parts of a message or artifact, joined. */
export const text = (t: { parts: { content?: { $case: string; value: unknown } }[] } | undefined) => (t?.parts ?? []).map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");
export async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}
