import { Hono } from "hono";
import type { AppEnv } from "./context";

export const hookRoutes = new Hono<AppEnv>();
