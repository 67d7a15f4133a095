import { defineConfig } from "vitest/config";

// Services and pure modules that need no Durable Object: they run in Node, over node:sqlite where
// they need SQL (test/node/support/sqlite.ts). Everything else runs inside workerd (vitest.config.ts).
export default defineConfig({
  test: { include: ["test/node/**/*.test.ts"], environment: "node", testTimeout: 30_000, execArgv: ["--disable-warning=ExperimentalWarning"] },
});
