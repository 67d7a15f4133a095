import { Hono } from "hono";
import type { AppEnv } from "./context";

export const processRoutes = new Hono<AppEnv>();
