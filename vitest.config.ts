import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
// wrangler.toml's [assets] directory (the console) must exist before the pool reads the config.
import { buildConsole } from "./scripts/lib/console-build.mjs";

buildConsole();

export default defineConfig({
  plugins: [
    // The function form runs after globalSetup, so `inject` sees what it provided.
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // The model provider settings point at the fake providers (no network); see test/global-setup.ts.
        // The hook receiver and fake providers listen on 127.0.0.1, which webhooks may only reach when allowed.
        bindings: { AUTH_SECRET: "test-secret", ALLOW_PRIVATE_HOSTS: "127.0.0.1,localhost", HOOK_SERVER_URL: inject("hookServerUrl"), MCP_SERVER_URL: inject("mcpServerUrl"), ...inject("providerBindings") },
      },
    })),
  ],
  test: { include: ["test/**/*.test.ts"], exclude: ["test/e2e/**", "test/node/**"], globalSetup: ["./test/global-setup.ts"], testTimeout: 30_000, hookTimeout: 30_000 },
});
