import react from "@vitejs/plugin-react";
import { defaultClientConditions, defineConfig } from "vite";

// `switchyard serve` serves the build at /admin; `pnpm --filter @switchyard/admin dev` runs Vite
// with the API proxied to a server on :8080 (SWITCHYARD_URL to change it).
const api = process.env.SWITCHYARD_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/admin/",
  plugins: [react()],
  // The SDK and core are bundled from their sources (their `switchyard-source` export condition).
  resolve: { conditions: ["switchyard-source", ...defaultClientConditions] },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: { "/trpc": api, "/auth": api, "/device": api, "/health": api },
  },
});
