import { defaultConfigInput } from "@switchyard/core";
import type { Command } from "commander";
import { stringify } from "yaml";
import { CliError, type CliIO } from "../cli-io";
import { ConfigError, readConfigFile } from "../config";

export function registerConfig(program: Command, io: CliIO): void {
  const config = program.command("config").description("check or print catalog configs");
  config
    .command("check")
    .description("validate a config file; exits 1 and names every bad path when it is invalid")
    .argument("<file>", "the YAML config to check")
    .action(async (file: string) => {
      try {
        const { config: checked, source } = await readConfigFile(file);
        const hot = checked.models.filter((m) => m.placement === "hot").length;
        io.out(
          `${source}: ok (${checked.clusters.length} clusters, ${checked.models.length} models: ${hot} hot, ${checked.models.length - hot} dynamic)\n`,
        );
      } catch (error) {
        if (error instanceof ConfigError) throw new CliError(error.message);
        throw error;
      }
    });
  config
    .command("default")
    .description("print the built-in catalog as YAML, a starting point for your own config")
    .action(() => {
      io.out(stringify(defaultConfigInput(), { lineWidth: 0 }));
    });
}
