import { Hono } from "hono";
import type { AppEnv } from "./context";

export const fsRoutes = new Hono<AppEnv>();
