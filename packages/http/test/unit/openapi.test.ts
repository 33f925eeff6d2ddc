import { describe, expect, it } from "vitest";
import { z } from "zod";
import { apiMarkdown, BODY_ERRORS, buildOpenApi, named, type RouteSpec, routeErrors } from "../../src";

const Thing = named("Thing", z.object({ id: z.string(), size: z.number().int() }));
const CreateThing = named(
  "CreateThing",
  z.strictObject({
    name: z.string().min(1).describe("What to call | the thing"),
    colour: z.enum(["red", "blue"]).default("red"),
    parts: z.array(Thing.schema).optional(),
    extra: z.object({ a: z.string(), b: z.number() }).nullable().optional(),
  }),
);
const Forwarded = named("Forwarded", z.looseObject({ model: z.string(), stream: z.boolean().optional() }));

const ROUTES: RouteSpec[] = [
  { method: "GET", path: "/health", access: "public", summary: "Up?" },
  {
    method: "GET",
    path: "/things/:cluster/:framework/*id",
    access: "user",
    scope: "batch",
    summary: "One thing",
    response: { description: "The thing.", content: { "application/json": Thing } },
    errors: ["model_not_found"],
  },
  {
    method: "POST",
    path: "/things",
    access: "admin",
    scope: "admin",
    summary: "Make a thing",
    body: { schema: CreateThing },
    query: z.object({ dry: z.enum(["yes", "no"]).optional(), limit: z.coerce.number().default(3) }),
    response: { content: { "application/json": Thing, "text/event-stream": null } },
  },
  {
    method: "POST",
    path: "/forward",
    access: "user",
    summary: "Forward a thing",
    body: { schema: Forwarded, readBy: "handler", passThrough: true },
    response: { status: 201, content: { "application/json": null } },
  },
];

describe("routeErrors", () => {
  it("adds the errors of the access, the path's cluster and framework, and a body to the declared ones", () => {
    expect(routeErrors(ROUTES[0]!)).toEqual([]);
    expect(routeErrors(ROUTES[1]!)).toEqual([
      "missing_credentials",
      "invalid_token",
      "token_expired",
      "invalid_api_key",
      "insufficient_scope",
      "model_not_found",
      "cluster_not_found",
      "framework_not_found",
    ]);
    const post = routeErrors(ROUTES[2]!);
    expect(post).toContain("admin_required");
    expect(post).toEqual(expect.arrayContaining([...BODY_ERRORS]));
    expect(new Set(post).size).toBe(post.length);
  });

  it("adds a bad query value's 400 to a route that declares a query, in the document and api.md", () => {
    const list: RouteSpec = {
      method: "GET",
      path: "/things",
      access: "user",
      summary: "Your things",
      query: z.object({ after: z.string().min(1).optional() }),
    };
    expect(routeErrors(list)).toContain("invalid_field");
    expect(routeErrors(list)).not.toContain("invalid_json");
    expect(routeErrors({ ...list, query: undefined })).not.toContain("invalid_field");
    const doc = buildOpenApi([list], "1.2.3") as any;
    expect(Object.keys(doc.paths["/things"].get.responses["400"].content["application/json"].examples)).toEqual([
      "invalid_field",
    ]);
    expect(apiMarkdown(doc)).toContain("Errors: 400 (`invalid_field`); 401 (");
  });
});

describe("buildOpenApi", () => {
  const doc = buildOpenApi(ROUTES, "1.2.3") as any;

  it("documents every route of the table under its OpenAPI path, in the table's order", () => {
    expect(Object.keys(doc.paths)).toEqual(["/health", "/things/{cluster}/{framework}/{id}", "/things", "/forward"]);
    expect(doc.info.version).toBe("1.2.3");
    expect(doc.paths["/health"].get).toMatchObject({ security: [], "x-switchyard-access": "public" });
    expect(doc.paths["/health"].get.responses).toEqual({ "200": { description: "OK" } });
  });

  it("takes path and query parameters, bodies and answers from the spec's schemas, as named components", () => {
    const one = doc.paths["/things/{cluster}/{framework}/{id}"].get;
    expect(one.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual([
      "path:cluster",
      "path:framework",
      "path:id",
    ]);
    expect(one["x-switchyard-scope"]).toBe("batch");
    expect(one.responses["200"]).toEqual({
      description: "The thing.",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } },
    });
    const make = doc.paths["/things"].post;
    expect(make.requestBody).toEqual({
      required: true,
      content: { "application/json": { schema: { $ref: "#/components/schemas/CreateThing" } } },
    });
    expect(make.parameters).toEqual([
      { name: "dry", in: "query", required: false, schema: { type: "string", enum: ["yes", "no"] } },
      { name: "limit", in: "query", required: false, schema: { type: "number", default: 3 } },
    ]);
    expect(make.responses["200"].content["text/event-stream"]).toEqual({});
    expect(doc.components.schemas.Thing.properties.size.type).toBe("integer");
    expect(doc.components.schemas.CreateThing.required).toEqual(["name"]);
    expect(doc.components.schemas.Error).toBeDefined();
  });

  it("groups the errors by status with the catalogue's description and an example of each", () => {
    const responses = doc.paths["/things/{cluster}/{framework}/{id}"].get.responses;
    expect(Object.keys(responses)).toEqual(["200", "401", "403", "404"]);
    expect(Object.keys(responses["404"].content["application/json"].examples)).toEqual([
      "model_not_found",
      "cluster_not_found",
      "framework_not_found",
    ]);
    expect(responses["404"].content["application/json"].examples.model_not_found.value.error).toMatchObject({
      code: "model_not_found",
      type: "invalid_request_error",
    });
    expect(responses["404"].description).toMatch(/^`model_not_found`: /);
  });

  it("refuses two different schemas under one name", () => {
    const clash = named("Thing", z.object({ other: z.boolean() }));
    expect(() =>
      buildOpenApi(
        [
          ...ROUTES,
          {
            method: "GET",
            path: "/other",
            access: "public",
            summary: "",
            response: { content: { "application/json": clash } },
          },
        ],
        "0",
      ),
    ).toThrow(/two different schemas are named Thing/);
  });

  it("answers with the spec's success status and marks a pass-through body", () => {
    const forward = doc.paths["/forward"].post;
    expect(Object.keys(forward.responses)).toContain("201");
    expect(forward.responses["200"]).toBeUndefined();
    expect(forward.requestBody["x-switchyard-pass-through"]).toBe(true);
    expect(doc.paths["/things"].post.requestBody["x-switchyard-pass-through"]).toBeUndefined();
  });

  it("renders docs/api.md's table and sections from the document", () => {
    const md = apiMarkdown(doc);
    expect(md).toContain("| POST | `/things` | admin | admin | Make a thing |");
    expect(md).toContain("Request body: `CreateThing` (application/json).");
    expect(md).toContain("Answer: `Thing` (application/json), as the model server sends it (text/event-stream).");
    expect(md).toMatch(/### GET \/health\n\nUp\?\n/);
  });

  it("lists a route's parameters and the top-level fields of its bodies, nested schemas by name", () => {
    const md = apiMarkdown(doc);
    const make = md.slice(md.indexOf("### POST /things"), md.indexOf("### POST /forward"));
    expect(make).toContain(
      [
        "| parameter | in | type | required | default |",
        "| --- | --- | --- | --- | --- |",
        '| `dry` | query | `"yes"` \\| `"no"` | no | |',
        "| `limit` | query | number | no | `3` |",
      ].join("\n"),
    );
    // Required marker, default and description, a pipe in a description escaped for the table;
    // the nested `Thing` by name, linked to the section listing its fields; an unnamed object by its keys.
    expect(make).toContain(
      [
        "| field | type | required | default | description |",
        "| --- | --- | --- | --- | --- |",
        "| `name` | string | yes | | What to call \\| the thing |",
        '| `colour` | `"red"` \\| `"blue"` | no | `"red"` | |',
        "| `parts` | [`Thing`](#get-thingsclusterframeworkid)[] | no | | |",
        "| `extra` | object (a, b) \\| null | no | | |",
      ].join("\n"),
    );
    // The answer's fields, without the columns no field fills.
    expect(make).toContain(
      [
        "| field | type | required |",
        "| --- | --- | --- |",
        "| `id` | string | yes |",
        "| `size` | integer | yes |",
      ].join("\n"),
    );
    const one = md.slice(md.indexOf("### GET /things/"), md.indexOf("### POST /things"));
    expect(one).toContain("| `framework` | path | string | yes |");
  });

  it("says a pass-through body is forwarded and lists the fields the server checks", () => {
    const md = apiMarkdown(doc);
    const forward = md.slice(md.indexOf("### POST /forward"));
    expect(forward).toContain("Pass-through: the body goes to the model server as sent;");
    expect(forward).toContain("| `model` | string | yes |");
    expect(forward).toContain("| `stream` | boolean | no |");
    expect(forward).toContain("Answer (201): as the model server sends it (application/json).");
  });
});
