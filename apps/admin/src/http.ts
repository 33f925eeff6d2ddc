import { session } from "./session";

/**
 * The server's plain HTTP API (the OpenAI-compatible routes) as the signed-in user: the
 * session's access token as the bearer, and a 401 ends the session as it does for tRPC calls.
 */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const token = await session.accessToken();
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  return sessionFetch(path, { ...init, headers });
}

/** fetch, where a 401 ends the session (the token was revoked or the user disabled). */
export const sessionFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (res.status === 401 && session.signedIn) session.end("Your session is no longer valid. Sign in again.");
  return res;
};

/** The OpenAI-shaped error body's message, or the status when there is none. */
export async function errorOf(res: Response): Promise<{ message: string; body: Record<string, unknown> | null }> {
  const body = (await res.json().catch(() => null)) as { error?: Record<string, unknown> } | null;
  const message = typeof body?.error?.message === "string" ? body.error.message : `HTTP ${res.status}`;
  return { message, body: body?.error ?? null };
}

/**
 * Download a file the API serves only with a bearer token (a plain link cannot carry one):
 * fetch it, then save it through a temporary object URL.
 */
export async function download(path: string, filename: string): Promise<void> {
  const res = await apiFetch(path);
  if (!res.ok) throw new Error((await errorOf(res)).message);
  saveBlob(await res.blob(), filename);
}

/** Save data the page holds as a file, through a temporary object URL. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  try {
    const link = document.createElement("a");
    link.href = url;
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    // Give the browser a moment to start the download before the URL goes away.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
