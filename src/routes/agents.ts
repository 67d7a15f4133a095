import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { AgentListQuery, AgentName, AgentSpec, ApiError, unwrap } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { actorOf, type AppEnv } from "./context";
import { createRoute, defineRoute, errors, json, jsonRequest, S } from "./openapi";

const notFound = ApiError.of(404, "agent_not_found", "No such agent.");
const NameParam = z.object({ name: AgentName.meta({ param: { name: "name", in: "path" }, example: "greeter" }) });
const tags = ["agents"];

export const agentRoutes = new OpenAPIHono<AppEnv>();

defineRoute(
  agentRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List the registered agents",
    request: { query: AgentListQuery },
    responses: { 200: json(S.AgentList, "A page of agents, by name."), ...errors(400, 401, 500) },
  }),
  {},
  async (c, { query: { limit, cursor } }) => {
    const page = await forRoutes.kernel(c.env, c.get("tenant")).listAgents({ limit, ...(cursor ? { cursor } : {}) });
    return c.json({ agents: page.items, nextCursor: page.nextCursor });
  },
);

defineRoute(
  agentRoutes,
  createRoute({
    method: "get",
    path: "/{name}",
    tags,
    summary: "Get an agent",
    request: { params: NameParam },
    responses: { 200: json(S.AgentSpec, "The AgentSpec."), ...errors(401, [404, "`agent_not_found`."], 500) },
  }),
  { paramError: notFound },
  async (c, { param: { name } }) => c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).getAgent(name))),
);

defineRoute(
  agentRoutes,
  createRoute({
    method: "put",
    path: "/{name}",
    tags,
    summary: "Register or replace an agent",
    description: "Registers an AgentSpec under the name in the path, like installing a binary. Unknown keys are refused.",
    request: { params: NameParam, body: jsonRequest(S.AgentSpecInput) },
    responses: {
      200: json(S.AgentSpec, "The stored AgentSpec, defaults filled in."),
      ...errors([400, `${"`invalid_request`"} (also for a malformed name) or \`invalid_json\`.`], 401, 403, 413, [422, "`script_required`: a scripted agent needs a script; `unknown_tool`: `tools` names a tool that exists nowhere, or a pattern that matches no tool (the message lists the known tools)."], 500),
    },
  }),
  { role: "admin", paramError: ApiError.of(400, "invalid_request", "Agent names are 1-64 lowercase letters, digits, _ and -.") },
  async (c, { param: { name }, body: input }) => {
    if (input.model === "scripted" && !input.script) {
      throw ApiError.of(422, "script_required", 'An agent whose model is "scripted" needs a script.');
    }
    const spec = AgentSpec.parse({ ...input, name });
    return c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).registerAgent(spec, actorOf(c))));
  },
);

defineRoute(
  agentRoutes,
  createRoute({
    method: "delete",
    path: "/{name}",
    tags,
    summary: "Delete an agent",
    request: { params: NameParam },
    responses: { 200: json(S.Deleted, "The agent is gone; its processes run on."), ...errors(401, 403, [404, "`agent_not_found`."], 500) },
  }),
  { role: "admin", paramError: notFound },
  async (c, { param: { name } }) => c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).deleteAgent(name, actorOf(c)))),
);
