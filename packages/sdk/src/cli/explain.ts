import { DeviceLoginError } from "../device-grant";
import {
  APIConnectionError,
  APIError,
  IdentityMismatchError,
  LoginRequiredError,
  ModelNotReadyError,
  OAuthError,
  SwitchyardSDKError,
  TokenStoreError,
} from "../errors";
import { type CliContext, CliError, EXIT, Interrupted } from "./context";
import { speakCli, suggestModel } from "./speak";

/** The exit code and the message for an error a command threw. */
export function explain(error: unknown, ctx: CliContext | undefined): { code: number; message: string } {
  if (error instanceof CliError) return { code: error.exitCode, message: error.message };
  if (error instanceof Interrupted || (ctx?.interrupted && (error as Error)?.name === "AbortError")) {
    return { code: EXIT.interrupted, message: "Cancelled." };
  }
  if (
    error instanceof LoginRequiredError ||
    error instanceof IdentityMismatchError ||
    error instanceof DeviceLoginError
  ) {
    return { code: EXIT.auth, message: error.message };
  }
  if (error instanceof OAuthError) {
    return {
      code: error.error === "too_many_attempts" ? EXIT.unavailable : EXIT.auth,
      message: `The login failed: ${error.message}.`,
    };
  }
  if (error instanceof TokenStoreError) return { code: EXIT.failure, message: error.message };
  if (error instanceof APIConnectionError) return { code: EXIT.unreachable, message: error.message };
  if (error instanceof APIError) {
    if (error.status === 401 || error.status === 403) {
      const usingKey = ctx?.apiKey !== undefined;
      const hint =
        error.status === 403
          ? ""
          : usingKey
            ? " Check the API key (--api-key or SWITCHYARD_API_KEY)."
            : " Run 'sy login' to log in again.";
      return { code: EXIT.auth, message: `${speakCli(error)}${hint}` };
    }
    if (error.status === 404) return { code: EXIT.notFound, message: speakCli(error) };
    if (error.status === 429 || error instanceof ModelNotReadyError || error.code === "cluster_unavailable") {
      return { code: EXIT.unavailable, message: speakCli(error) };
    }
    return { code: EXIT.failure, message: speakCli(error) };
  }
  if (error instanceof SwitchyardSDKError) return { code: EXIT.failure, message: error.message };
  return { code: EXIT.failure, message: `unexpected error: ${(error as Error)?.stack ?? String(error)}` };
}

/** As `explain`, with "Did you mean ...?" after an unknown model's name (asked of the server). */
export async function explainWithSuggestion(
  error: unknown,
  ctx: CliContext | undefined,
): Promise<{ code: number; message: string }> {
  const { code, message } = explain(error, ctx);
  const suggestion = error instanceof APIError && ctx ? await suggestModel(error, ctx) : undefined;
  // "The model 'x' does not exist. Did you mean y? `sy models` lists ...": the guess before the way to look.
  return { code, message: suggestion ? message.replace(/^(.*? does not exist\.)/, `$1 ${suggestion}`) : message };
}
