import type { JsonSchema } from "./routes";

/** The OpenAPI extension marking a request body the server forwards to the model server as sent. */
export const PASS_THROUGH = "x-switchyard-pass-through";

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: JsonSchema;
  description?: string;
}

type Content = Record<string, { schema?: { $ref?: string }; examples?: Record<string, unknown> }>;

interface Operation {
  summary?: string;
  "x-switchyard-access"?: string;
  "x-switchyard-scope"?: string;
  parameters?: Parameter[];
  requestBody?: { content: Content; [PASS_THROUGH]?: boolean };
  responses: Record<string, { description?: string; content?: Content }>;
}

/** Enum values shown in a type before the rest are elided. */
const MAX_ENUM = 10;
/** Keys of an unnamed nested object shown in a type before the rest are elided. */
const MAX_KEYS = 6;

const componentName = (ref: string | undefined): string | undefined => ref?.split("/").pop();

/** The component a route's request body is (its first media type's), if it is one. */
function requestComponent(op: Operation): { media: string; name: string } | undefined {
  const [media, entry] = Object.entries(op.requestBody?.content ?? {})[0] ?? [];
  const name = componentName(entry?.schema?.$ref);
  return media && name ? { media, name } : undefined;
}

/** A route's success answer: the first 2xx of its responses. */
function successOf(op: Operation): [status: string, answer: Operation["responses"][string]] | undefined {
  return Object.entries(op.responses).find(([status]) => status.startsWith("2"));
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\w\- ]/g, "")
    .replace(/ /g, "-");
}

function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
}

function literal(value: unknown): string {
  return `\`${JSON.stringify(value)}\``;
}

/**
 * How the document's components are named in the markdown: a nested schema equal to a
 * component is shown by its name, linked to the first route section that lists its fields.
 */
class Names {
  private readonly byShape = new Map<string, string>();
  readonly anchors = new Map<string, string>();

  constructor(readonly schemas: Record<string, JsonSchema>) {
    for (const [name, schema] of Object.entries(schemas)) {
      if (name !== "Error") this.byShape.set(Names.shape(schema), name);
    }
  }

  private static shape(schema: JsonSchema): string {
    const { $schema: _, ...rest } = schema;
    return JSON.stringify(rest);
  }

  nameOf(schema: JsonSchema): string | undefined {
    return componentName(schema.$ref as string | undefined) ?? this.byShape.get(Names.shape(schema));
  }

  link(name: string): string {
    const anchor = this.anchors.get(name);
    return anchor ? `[\`${name}\`](#${anchor})` : `\`${name}\``;
  }

  /** A JSON Schema as a short type: `string`, `integer \| null`, `"a" \| "b"`, `Model[]`, `object (a, b)`. */
  typeOf(schema: JsonSchema, nested = false): string {
    const name = nested ? this.nameOf(schema) : undefined;
    if (name) return this.link(name);
    if ("const" in schema) return literal(schema.const);
    if (Array.isArray(schema.enum)) {
      const shown = schema.enum.slice(0, MAX_ENUM).map(literal);
      return [...shown, ...(schema.enum.length > MAX_ENUM ? ["…"] : [])].join(" | ");
    }
    if (schema.anyOf || schema.oneOf) {
      const alternatives = Names.alternatives(schema);
      // Several object alternatives read as one `object`: their keys would crowd the column.
      const collapse = alternatives.filter((a) => this.isPlainObject(a)).length > 1;
      const types = alternatives.map((a) => (collapse && this.isPlainObject(a) ? "object" : this.typeOf(a, true)));
      return [...new Set(types)].join(" | ");
    }
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : schema.type ? [schema.type as string] : [];
    if (types.length === 0) return "any";
    return types
      .map((type) => {
        if (type === "array") {
          const item = schema.items ? this.typeOf(schema.items as JsonSchema, true) : "any";
          return item.includes(" | ") ? `(${item})[]` : `${item}[]`;
        }
        if (type === "object") return this.objectType(schema);
        return type;
      })
      .join(" | ");
  }

  /** A union's alternatives, nested unions flattened. */
  private static alternatives(schema: JsonSchema): JsonSchema[] {
    const direct = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
    return direct ? direct.flatMap((a) => (a.anyOf || a.oneOf ? Names.alternatives(a) : [a])) : [schema];
  }

  private isPlainObject(schema: JsonSchema): boolean {
    return schema.type === "object" && this.nameOf(schema) === undefined;
  }

  private objectType(schema: JsonSchema): string {
    const keys = Object.keys((schema.properties as JsonSchema | undefined) ?? {});
    if (keys.length > 0) {
      const shown = keys.slice(0, MAX_KEYS).join(", ");
      return `object (${shown}${keys.length > MAX_KEYS ? ", …" : ""})`;
    }
    const values = schema.additionalProperties;
    if (values && typeof values === "object" && Object.keys(values).length > 0) {
      return `map of ${this.typeOf(values as JsonSchema, true)}`;
    }
    return "object";
  }
}

/** A markdown table, leaving out the optional columns no row fills. */
function table(header: string[], rows: string[][], optional: ReadonlySet<string>): string[] {
  const keep = header.map((h, i) => !optional.has(h) || rows.some((r) => r[i] !== ""));
  const pick = (row: string[]) =>
    `| ${row
      .filter((_, i) => keep[i])
      .map(cell)
      .join(" | ")} |`;
  return [pick(header), pick(header.map(() => "---")), ...rows.map((r) => pick(r).replace(/ {2}\|/g, " |")), ""];
}

const OPTIONAL_COLUMNS = new Set(["default", "description"]);

/** The top-level fields of an object schema: name, type, required, default, description. */
function fieldTable(schema: JsonSchema, names: Names): string[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries(properties).map(([name, property]) => [
    `\`${name}\``,
    names.typeOf(property, true),
    required.has(name) ? "yes" : "no",
    "default" in property ? literal(property.default) : "",
    typeof property.description === "string" ? property.description : "",
  ]);
  return table(["field", "type", "required", "default", "description"], rows, OPTIONAL_COLUMNS);
}

/** What a body schema holds: its fields, the fields of its items, or its type when it has no fields. */
function schemaFields(name: string, names: Names): string[] {
  const schema = names.schemas[name];
  if (!schema) return [];
  if (schema.properties) return fieldTable(schema, names);
  const items = schema.items as JsonSchema | undefined;
  if (schema.type === "array" && items) {
    const itemName = names.nameOf(items);
    if (itemName) return [`An array of ${names.link(itemName)}.`, ""];
    if (items.properties) return ["An array of objects with these fields:", "", ...fieldTable(items, names)];
  }
  return [`Type: ${cell(names.typeOf(schema))}.`, ""];
}

function parameterTable(parameters: Parameter[], names: Names): string[] {
  if (parameters.length === 0) return [];
  const rows = parameters.map((p) => [
    `\`${p.name}\``,
    p.in,
    p.schema ? names.typeOf(p.schema, true) : "string",
    p.required ? "yes" : "no",
    p.schema && "default" in p.schema ? literal(p.schema.default) : "",
    p.description ?? (typeof p.schema?.description === "string" ? p.schema.description : ""),
  ]);
  return [
    "Parameters:",
    "",
    ...table(["parameter", "in", "type", "required", "default", "description"], rows, OPTIONAL_COLUMNS),
  ];
}

function requestSection(op: Operation, names: Names): string[] {
  const request = requestComponent(op);
  if (!request) return [];
  const { media, name } = request;
  const lines = [`Request body: \`${name}\` (${media}).`, ""];
  if (op.requestBody?.[PASS_THROUGH]) {
    lines.push(
      "Pass-through: the body goes to the model server as sent; Switchyard reads or checks the fields below and forwards any other field unchanged.",
      "",
    );
  }
  return [...lines, ...schemaFields(name, names)];
}

function answerSection(op: Operation, names: Names): string[] {
  const [status, answer] = successOf(op) ?? [];
  if (!status || !answer?.content) return [];
  const described = Object.entries(answer.content).map(([media, entry]) => {
    const name = componentName(entry.schema?.$ref);
    return { media, name };
  });
  const unnamed = described.filter((d) => !d.name).map((d) => d.media);
  const what = [
    ...described.filter((d) => d.name).map(({ media, name }) => `\`${name}\` (${media})`),
    ...(unnamed.length ? [`as the model server sends it (${unnamed.join(", ")})`] : []),
  ].join(", ");
  const note = answer.description && answer.description !== "OK" ? ` ${answer.description}` : "";
  const json = described.find((d) => d.media === "application/json")?.name;
  return [
    `Answer${status === "200" ? "" : ` (${status})`}: ${what}.${note}`,
    "",
    ...(json ? schemaFields(json, names) : []),
  ];
}

/** The first route section listing each component's fields, so nested names can link to it. */
function anchorComponents(paths: Record<string, Record<string, Operation>>, names: Names): void {
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const anchor = anchorOf(`${method.toUpperCase()} ${path}`);
      const shown = [
        requestComponent(op)?.name,
        componentName(successOf(op)?.[1].content?.["application/json"]?.schema?.$ref),
      ];
      for (const name of shown) if (name && !names.anchors.has(name)) names.anchors.set(name, anchor);
    }
  }
}

/**
 * docs/api.md from the OpenAPI document: one section per route with its access, its
 * parameters, the top-level fields of its request and answer bodies (nested schemas by name)
 * and its errors.
 */
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
    "Each route lists the top-level fields of its bodies; a nested object is shown by its schema's",
    "name (linked to a route that lists its fields) or by its keys, and `/openapi.json` has the rest.",
    "",
    "| method | path | access | API key scope | summary |",
    "| --- | --- | --- | --- | --- |",
  ];
  const paths = doc.paths as Record<string, Record<string, Operation>>;
  const components = (doc.components as { schemas?: Record<string, JsonSchema> } | undefined)?.schemas ?? {};
  const names = new Names(components);
  anchorComponents(paths, names);
  const sections: string[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      lines.push(
        `| ${method.toUpperCase()} | \`${path}\` | ${op["x-switchyard-access"]} | ${op["x-switchyard-scope"] ?? "-"} | ${op.summary} |`,
      );
      const errors = Object.entries(op.responses)
        .filter(([status]) => !status.startsWith("2"))
        .map(
          ([status, r]) =>
            `${status} (${Object.keys(r.content?.["application/json"]?.examples ?? {})
              .map((c) => `\`${c}\``)
              .join(", ")})`,
        );
      sections.push(
        [
          `### ${method.toUpperCase()} ${path}`,
          "",
          String(op.summary),
          "",
          ...parameterTable(op.parameters ?? [], names),
          ...requestSection(op, names),
          ...answerSection(op, names),
          ...(errors.length ? [`Errors: ${errors.join("; ")}.`, ""] : []),
        ].join("\n"),
      );
    }
  }
  return [...lines, "", "## Routes", "", ...sections].join("\n");
}
