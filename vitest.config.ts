import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    // The function form runs after globalSetup, so `inject` sees what it provided.
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // The model provider settings point at the fake providers (no network); see test/global-setup.ts.
        bindings: { AUTH_SECRET: "test-secret", HOOK_SERVER_URL: inject("hookServerUrl"), ...inject("providerBindings") },
      },
    })),
  ],
  test: { include: ["test/**/*.test.ts"], exclude: ["test/e2e/**"], globalSetup: ["./test/global-setup.ts"], testTimeout: 30_000, hookTimeout: 30_000 },
});
