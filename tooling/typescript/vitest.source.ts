/**
 * Tests run the workspace from source: @switchyard/* imports resolve through their `source`
 * export condition to src/*.ts (vite's default conditions follow it), so no build is needed
 * between a change and a test run.
 */
export const fromSource = {
  resolve: { conditions: ["source", "module", "browser", "development|production"] },
  ssr: { resolve: { conditions: ["source", "module", "node", "development|production"] } },
};
