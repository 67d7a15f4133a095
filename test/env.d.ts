// Types `env` and `exports` from "cloudflare:workers" in tests as the Worker's own bindings.
type WorkerEnv = import("../src/env").Env;
type WorkerModule = typeof import("../src/index");

declare namespace Cloudflare {
  interface Env extends WorkerEnv {
    /** The scriptable webhook receiver started by test/global-setup.ts. */
    HOOK_SERVER_URL: string;
    /** The real MCP server started by test/global-setup.ts (test/support/mcp-server.mjs): `http://127.0.0.1:<port>/mcp`. */
    MCP_SERVER_URL: string;
  }
  interface GlobalProps {
    mainModule: WorkerModule;
  }
}
