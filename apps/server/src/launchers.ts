import path from "node:path";
import { fileURLToPath } from "node:url";
import type { SwitchyardConfig } from "@switchyard/core";
import { DEFAULT_MODEL_SERVER_ENV, type EngineAdapterOptions } from "@switchyard/engines";
import { type Launcher, LocalLauncher, SlurmLauncher } from "@switchyard/scheduler";
import type { Logger } from "./logger";

/**
 * The `switchyard` executable, which launches the simulator (`switchyard simulator ...`): the
 * built one when this runs from dist/, the one that runs src/ through tsx when this runs from
 * source (tests, development), so that model servers run the same code as the server.
 */
export const SWITCHYARD_BIN = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "../bin/switchyard-source.mjs" : "../bin/switchyard.mjs", import.meta.url),
);

/** One launcher per cluster that runs anything, chosen by its `launcher.type` (the one place that decides). */
export function createLaunchers(config: SwitchyardConfig, dataDir: string, logger: Logger): Map<string, Launcher> {
  const engines = engineOptions(config);
  const launchers = new Map<string, Launcher>();
  for (const cluster of config.clusters) {
    if (cluster.status === "coming_soon") continue;
    if (cluster.launcher.type === "local") {
      launchers.set(
        cluster.name,
        new LocalLauncher({
          logDir: path.join(dataDir, "logs"),
          engines,
          stopGraceMs: config.scheduler.stopGrace * 1000,
          logger: logger.child({ cluster: cluster.name }),
          sharedSimulator: config.simulator.shareProcess,
        }),
      );
    } else {
      launchers.set(
        cluster.name,
        new SlurmLauncher({
          stateDir: cluster.launcher.stateDir ?? path.join(dataDir, "slurm"),
          config: cluster.launcher,
          engines,
          logger: logger.child({ cluster: cluster.name }),
        }),
      );
    }
  }
  return launchers;
}

/** How engines are launched; what model servers inherit of this process's environment. */
export function engineOptions(config: SwitchyardConfig): EngineAdapterOptions {
  return {
    switchyardBin: SWITCHYARD_BIN,
    loadTimeScale: config.simulator.loadTimeScale,
    modelServerEnv: [...DEFAULT_MODEL_SERVER_ENV, ...config.scheduler.modelServerEnv],
    secretEnvNames: secretEnvNames(config),
  };
}

/** The variables the config reads secrets from: model servers never inherit them. */
function secretEnvNames(config: SwitchyardConfig): string[] {
  const names = [config.metrics.tokenEnv];
  for (const model of config.models)
    if (model.engine.type === "external" && model.engine.apiKeyEnv) names.push(model.engine.apiKeyEnv);
  for (const issuer of config.auth.oidc) if (issuer.introspection) names.push(issuer.introspection.clientSecretEnv);
  return names;
}
