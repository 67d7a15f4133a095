import { Hono } from "hono";
import type { AppEnv } from "./context";

export const agentRoutes = new Hono<AppEnv>();
