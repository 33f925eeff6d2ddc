// `sy batch`: its subcommands and their flags. Each subcommand's work is in its own file:
// submit.ts, wait.ts (following a batch: the progress bar and its pace), results.ts, list.ts
// (list, status), cancel.ts; describe.ts says what a batch looks like to people.
import { BATCH_ENDPOINTS } from "@switchyard/core";
import { type Command, InvalidArgumentError, Option } from "commander";
import { NUMBERS } from "../../numbers";
import type { Run } from "../../program";
import { cancel } from "./cancel";
import { list, status } from "./list";
import { results } from "./results";
import { submit } from "./submit";
import { wait } from "./wait";

export function registerBatch(program: Command, run: Run): void {
  const batch = program
    .command("batch")
    .description("offline batches: submit a JSONL file of requests, follow it, get its results");
  const interval = () =>
    new Option("--interval <seconds>", "seconds between status checks").argParser(NUMBERS.seconds).default(2);

  batch
    .command("submit")
    .description(
      "upload a JSONL file of requests and start a batch; prints the batch id once the server has checked the file",
    )
    .argument("<file>", "the JSONL file: one {custom_id, method, url, body} per line")
    .option("-m, --model <model>", "the model; sets body.model on every line as the file is uploaded")
    .addOption(
      new Option("--endpoint <path>", "what every line calls (default: the first line's url)").choices(
        Object.keys(BATCH_ENDPOINTS),
      ),
    )
    .option("--wait", "follow the batch until it ends (progress bar on a terminal)")
    .option("--metadata <key=value...>", "labels kept with the batch", metadataPairs)
    .option("--project <name>", "the project (allocation) to charge; default: your only active one")
    .option(
      "--shared",
      "FILE is a path on the cluster's shared storage: the server reads it there (reference API), nothing is uploaded; needs --model",
    )
    .option("--output-folder <dir>", "with --shared: where the results folder goes (default: beside FILE)")
    .addOption(interval())
    .action(run(submit));

  batch
    .command("list")
    .description("your batches, newest first")
    .option("--limit <n>", "how many (1 to 100)", NUMBERS.limit, 20)
    .action(run(list));

  batch
    .command("status")
    .description("a batch's status, counts, files and errors")
    .argument("<id>")
    .action(run(status));

  batch
    .command("wait")
    .description("follow a batch until it ends: exit 0 when it completed, 1 when it failed, expired or was cancelled")
    .argument("<id>")
    .addOption(interval())
    .action(run(wait));

  batch
    .command("results")
    .description("the answers of an ended batch, as JSONL (its output file)")
    .argument("<id>")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .option("--errors", "the failed requests (the errors file) instead of the answers")
    .action(run(results));

  batch
    .command("cancel")
    .description("stop a batch; answers already received are kept")
    .argument("<id>")
    .action(run(cancel));
}

function metadataPairs(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const at = value.indexOf("=");
  if (at < 1) throw new InvalidArgumentError("expected key=value.");
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}
