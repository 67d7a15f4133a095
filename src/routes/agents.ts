import { Hono } from "hono";
import { AgentListQuery, AgentName, AgentSpec, AgentSpecInput, ApiError, unwrap } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { actorOf, jsonBody, pathParam, queryOf, requireRole, type AppEnv } from "./context";

const notFound = ApiError.of(404, "agent_not_found", "No such agent.");

export const agentRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { limit, cursor } = queryOf(c, AgentListQuery);
    const page = await forRoutes.kernel(c.env, c.get("tenant")).listAgents({ limit, ...(cursor ? { cursor } : {}) });
    return c.json({ agents: page.items, nextCursor: page.nextCursor });
  })
  .get("/:name", async (c) => {
    const name = pathParam(c, "name", AgentName, notFound);
    return c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).getAgent(name)));
  })
  .put("/:name", requireRole("admin"), async (c) => {
    const name = pathParam(c, "name", AgentName, ApiError.of(400, "invalid_request", "Agent names are 1-64 lowercase letters, digits, _ and -."));
    const input = await jsonBody(c, AgentSpecInput);
    if (input.model === "scripted" && !input.script) {
      throw ApiError.of(422, "script_required", 'An agent whose model is "scripted" needs a script.');
    }
    const spec = AgentSpec.parse({ ...input, name });
    return c.json(await forRoutes.kernel(c.env, c.get("tenant")).registerAgent(spec, actorOf(c)));
  })
  .delete("/:name", requireRole("admin"), async (c) => {
    const name = pathParam(c, "name", AgentName, notFound);
    return c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).deleteAgent(name, actorOf(c))));
  });
