import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ApiError, ApprovalId, ApprovalListQuery, unwrap } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { actorOf, type AppContext, type AppEnv } from "./context";
import { createRoute, defineRoute, errors, json, jsonRequest, S } from "./openapi";

const kernel = (c: AppContext) => forRoutes.kernel(c.env, c.get("tenant"));
const notFound = ApiError.of(404, "approval_not_found", "No such approval.");
const IdParam = z.object({ id: ApprovalId.meta({ param: { name: "id", in: "path" }, description: "An approval id (a UUID)." }) });
const tags = ["approvals"];
const unknown: [number, string] = [404, "`approval_not_found`."];

/** Approvals (SPEC §11): tool calls a policy's `ask` holds for a person's decision. */
export const approvalRoutes = new OpenAPIHono<AppEnv>();

defineRoute(
  approvalRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List approvals",
    description:
      "The tenant's approvals in creation order, filtered by `state`, by the waiting process (`pid`) or by its tree (`rootPid`: every approval of a copilot's workers too). Approvals past their deadline are expired before the list is read.",
    request: { query: ApprovalListQuery },
    responses: { 200: json(S.ApprovalList, "A page of approvals."), ...errors(400, 401, 500) },
  }),
  {},
  async (c, { query }) => {
    const page = await kernel(c).listApprovals(query);
    return c.json({ approvals: page.items, nextCursor: page.nextCursor });
  },
);

defineRoute(
  approvalRoutes,
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "Get an approval",
    request: { params: IdParam },
    responses: { 200: json(S.Approval, "The approval."), ...errors(401, unknown, 500) },
  }),
  { paramError: notFound },
  async (c, { param: { id } }) => c.json(unwrap(await kernel(c).getApproval(id))),
);

defineRoute(
  approvalRoutes,
  createRoute({
    method: "post",
    path: "/{id}",
    tags,
    summary: "Decide an approval",
    description:
      "`approve` runs the call (with `arguments`, if given, in place of the model's; the tool validates them when it runs) and the hooks after the one that asked; `reject` makes the call an error result the model sees (`Error: rejected by <actor>: <message>`). The decision and its actor are audited (`approval_decided`); a worker's task returns to `working`; the process is woken through the kernel's outbox.",
    request: { params: IdParam, body: jsonRequest(S.DecideRequest) },
    responses: {
      200: json(S.Approval, "The decided approval."),
      ...errors(400, 401, 403, unknown, [409, "`approval_decided`: it was already decided or has expired."], 413, 500),
    },
  }),
  { paramError: notFound, role: "operator" },
  async (c, { param: { id }, body }) => c.json(unwrap(await kernel(c).decideApproval(id, body, actorOf(c)))),
);
