import type { Env } from "./env";
import { createApp } from "./routes/app";

export { KernelObject } from "./objects/kernel";
export { ProcessObject } from "./objects/process";
export { WorkspaceObject } from "./objects/workspace";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
