import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";

export class KernelObject extends DurableObject<Env> {}
