/** docs/api.md from the OpenAPI document: one section per route, its access and its errors. */
export function apiMarkdown(doc: Record<string, unknown>): string {
  const lines = [
    "# HTTP API",
    "",
    "<!-- Generated from the server's route table and core's schemas by `pnpm docs:generate`; do not edit by hand. -->",
    "",
    "The machine-readable version is served at `GET /openapi.json` (OpenAPI 3.1). Every error body",
    "has OpenAI's shape; the codes are listed in [errors.md](errors.md). Credentials: `Authorization:",
    "Bearer <access token or API key>` on every route not marked public.",
    "",
    "| method | path | access | API key scope | summary |",
    "| --- | --- | --- | --- | --- |",
  ];
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  const sections: string[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      lines.push(
        `| ${method.toUpperCase()} | \`${path}\` | ${op["x-switchyard-access"]} | ${op["x-switchyard-scope"] ?? "-"} | ${op.summary} |`,
      );
      const errors = Object.entries(
        op.responses as Record<string, { content?: Record<string, { examples?: Record<string, unknown> }> }>,
      )
        .filter(([status]) => status !== "200")
        .map(
          ([status, r]) =>
            `${status} (${Object.keys(r.content?.["application/json"]?.examples ?? {})
              .map((c) => `\`${c}\``)
              .join(", ")})`,
        );
      const requestContent = (op.requestBody as { content: Record<string, { schema: { $ref: string } }> } | undefined)
        ?.content;
      const body = requestContent
        ? `${Object.values(requestContent)[0]?.schema.$ref.split("/").pop()}\` (${Object.keys(requestContent)[0]}`
        : undefined;
      const answer = (op.responses as Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>)[
        "200"
      ]?.content?.["application/json"]?.schema?.$ref
        ?.split("/")
        .pop();
      sections.push(
        [
          `### ${method.toUpperCase()} ${path}`,
          "",
          String(op.summary),
          "",
          ...(body ? [`Request body: \`${body}, see /openapi.json).`, ""] : []),
          ...(answer ? [`Answer: \`${answer}\`.`, ""] : []),
          ...(errors.length ? [`Errors: ${errors.join("; ")}.`, ""] : []),
        ].join("\n"),
      );
    }
  }
  return [...lines, "", "## Routes", "", ...sections].join("\n");
}
