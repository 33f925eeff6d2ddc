/**
 * Tests run the workspace from source: @switchyard/* imports resolve through their `switchyard-source`
 * export condition to src/*.ts (vite's default conditions follow it), so no build is needed
 * between a change and a test run.
 */
export const fromSource = {
  resolve: { conditions: ["switchyard-source", "module", "browser", "development|production"] },
  ssr: { resolve: { conditions: ["switchyard-source", "module", "node", "development|production"] } },
};
