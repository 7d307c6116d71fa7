/**
 * scripts/gen-api-client.ts: the committed client types match the server's OpenAPI document,
 * and the generator turns the JSON Schema shapes it meets into the right TypeScript.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import {
  generateClientTypes,
  type OpenApiDocument,
  renderSchema,
  SCHEMA_FILE,
} from "../../scripts/gen-api-client.ts";
import { catalogOpenApi } from "../../src/catalog/openapi.ts";

const doc = JSON.parse(JSON.stringify(catalogOpenApi)) as OpenApiDocument;

function render(schema: unknown, schemas: Record<string, unknown> = {}): string {
  const document = { openapi: "3.1.0", components: { schemas } } as OpenApiDocument;
  return renderSchema(document, schema as never, 0, "test");
}

describe("gen-api-client", () => {
  it("the committed src/web/api/schema.gen.ts is the generator's output (run npm run gen:api)", async () => {
    const committed = await readFile(SCHEMA_FILE, "utf8");
    assert.equal(committed, generateClientTypes(doc));
  });

  it("emits every path and method of the document, with its operationId", () => {
    const text = generateClientTypes(doc);
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      assert.ok(text.includes(`  ${JSON.stringify(path)}: {`), `path ${path} missing`);
      for (const [method, operation] of Object.entries(item)) {
        const id = (operation as { operationId?: string }).operationId;
        if (id)
          assert.ok(text.includes(`    ${method}: operations[${JSON.stringify(id)}];`), `${method} ${path}`);
      }
    }
  });

  it("marks path parameters required and defaulted query parameters optional", () => {
    const text = generateClientTypes(doc);
    const listTags = text.slice(text.indexOf('  "listTags": {'));
    const params = listTags.slice(0, listTags.indexOf("requestBody"));
    assert.match(params, /path: \{[^}]*id: string;[^}]*name: string;/s);
    assert.match(params, /query\?: \{/);
    assert.match(params, /sort\?: "name" \| "created" \| "size" \| "pulled";/);
    assert.match(params, /pageSize\?: number;/);
  });

  it("renders the JSON Schema shapes zod produces", () => {
    assert.equal(render({ type: "string" }), "string");
    assert.equal(render({ type: "integer", minimum: 0 }), "number");
    assert.equal(render({ anyOf: [{ type: "string" }, { type: "null" }] }), "string | null");
    assert.equal(render({ type: ["string", "null"] }), "string | null");
    assert.equal(render({ type: "string", enum: ["a", "b"] }), '"a" | "b"');
    assert.equal(render({ const: 3 }), "3");
    assert.equal(
      render({ type: "array", items: { anyOf: [{ type: "string" }, { type: "number" }] } }),
      "(string | number)[]",
    );
    assert.equal(
      render({ type: "object", propertyNames: { type: "string" }, additionalProperties: { type: "string" } }),
      "{\n  [key: string]: string;\n}",
    );
    assert.equal(
      render({
        type: "object",
        properties: { a: { type: "string", description: "the a" }, "b-c": { type: "boolean" } },
        required: ["a"],
        additionalProperties: false,
      }),
      '{\n  /** @description the a */\n  a: string;\n  "b-c"?: boolean;\n}',
    );
    assert.equal(
      render({ $ref: "#/components/schemas/X" }, { X: { type: "string" } }),
      'components["schemas"]["X"]',
    );
    assert.equal(
      render(
        { allOf: [{ $ref: "#/components/schemas/X" }, { type: "object", properties: {} }] },
        { X: true },
      ),
      'components["schemas"]["X"] & {\n  [key: string]: unknown;\n}',
    );
    assert.equal(render({}), "unknown");
    assert.equal(render({ type: "string", nullable: true }), "string | null");
  });

  it("refuses what it does not understand instead of guessing", () => {
    assert.throws(
      () => render({ type: "object", patternProperties: { "^x": {} } }),
      /unsupported JSON Schema keyword "patternProperties"/,
    );
    assert.throws(() => render({ $ref: "#/components/schemas/Missing" }), /missing schema Missing/);
    assert.throws(() => render({ $ref: "https://example.com/x.json" }), /unsupported \$ref/);
    assert.throws(
      () => generateClientTypes({ openapi: "2.0" } as OpenApiDocument),
      /expected a 3.0 or 3.1 document/,
    );
  });

  it("produces the same bytes twice (stable output)", () => {
    assert.equal(
      generateClientTypes(doc),
      generateClientTypes(JSON.parse(JSON.stringify(doc)) as OpenApiDocument),
    );
  });
});
