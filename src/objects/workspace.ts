import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

export class WorkspaceObject extends DurableObject<Env> {}
