import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

export class ProcessObject extends DurableObject<Env> {}
