import type { APIError } from "../errors";
import type { CliContext } from "./context";
import { closestNames, orList } from "./suggest";

/**
 * The server's messages are written for anyone calling its HTTP API ("GET /v1/models lists the
 * available models"); `sy` says what to type instead. Matched by the error's code, the rest of
 * the message kept: the server's own messages stay as they are.
 */
const CLI_WORDS: { code: string; from: RegExp; to: (message: string) => string }[] = [
  {
    code: "model_not_found",
    from: /GET \/v1\/models lists the available models\./,
    to: () => "`sy models` lists the available models.",
  },
  {
    code: "batch_limit_reached",
    from: /Wait for it to finish or cancel it\./,
    to: (message) => {
      const id = /\bbatch_\w+/.exec(message)?.[0] ?? "ID";
      return `Follow it with \`sy batch wait ${id}\`, or stop it with \`sy batch cancel ${id}\`.`;
    },
  },
];

/** An API error's message as `sy` shows it. */
export function speakCli(error: APIError): string {
  let message = error.message;
  for (const words of CLI_WORDS) {
    if (error.code === words.code) message = message.replace(words.from, words.to(message));
  }
  return message;
}

/**
 * For an unknown model: "Did you mean X?" from the ids and aliases of the models the user may
 * use (asked of the server, briefly; nothing when it does not answer or nothing is close).
 */
export async function suggestModel(error: APIError, ctx: CliContext): Promise<string | undefined> {
  if (error.code !== "model_not_found") return undefined;
  const typed = /The model '(.+?)' does not exist/.exec(error.message)?.[1];
  if (!typed) return undefined;
  try {
    const models = await ctx.client().models.list({ signal: AbortSignal.timeout(3000) });
    const names = closestNames(
      typed,
      models.map((m) => [m.id, ...m.aliases]),
    );
    return names.length ? `Did you mean ${orList(names)}?` : undefined;
  } catch {
    return undefined;
  }
}
