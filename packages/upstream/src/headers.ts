/**
 * The headers of a JSON request to a model server: our request id, and the server's own key
 * (`authorization`: its deployment's, or an external server's `apiKeyEnv`), never the client's
 * credentials. With `contentLength` (a body already in bytes) also its length and `accept`.
 * One object literal per request, as the hot path had before.
 */
export function modelServerHeaders(
  requestId: string,
  authorization: string | undefined,
  contentLength?: number,
  accept = "application/json",
): Record<string, string> {
  const headers: Record<string, string> =
    contentLength === undefined
      ? { "content-type": "application/json", "x-request-id": requestId }
      : {
          "content-type": "application/json",
          "content-length": String(contentLength),
          accept,
          "x-request-id": requestId,
        };
  if (authorization) headers.authorization = authorization;
  return headers;
}
