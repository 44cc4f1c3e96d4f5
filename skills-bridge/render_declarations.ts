import { Obj, Point, type SkillApi, Workspace } from "./skill_api.ts";
import { SKILL_ERROR_CODES } from "./skill_error.ts";
import type { SkillSchema } from "./skill_schema.ts";

/** A schema rendered as a named `interface` wherever it appears. */
export interface NamedType {
  /** Name of the rendered `interface`. */
  readonly name: string;
  /** The schema rendered as the interface body. */
  readonly schema: SkillSchema;
  /** Doc comment rendered above the interface. */
  readonly doc?: string;
}

/** The named types of the tabletop API: `Obj`, `Workspace`, `Point`. */
const TABLETOP_TYPES: readonly NamedType[] = [
  {
    name: "Obj",
    schema: Obj,
    doc:
      "An object on the table. `on` is the id of the object it rests on or in, or null for the table. Metres; z is its bottom.",
  },
  { name: "Workspace", schema: Workspace, doc: "The table bounds, in metres." },
  { name: "Point", schema: Point, doc: "A point on the table, in metres." },
];

/** Options for {@linkcode renderDeclarations}. */
export interface RenderDeclarationsOptions {
  /** Schemas rendered by name; default `Obj`, `Workspace`, `Point`. */
  types?: readonly NamedType[];
}

type _Schema = Record<string, unknown>;

/**
 * Renders the API as TypeScript declarations for the LLM prompt, from the
 * skills' zod schemas (through JSON Schema): one `declare function` per skill
 * with its doc and parameter docs (constraints included), an `interface` per
 * named type it uses, and the `SkillError` a failed skill throws. Skills with
 * a `null` result return `void`. The output type-checks as a script.
 *
 * @example
 * ```ts
 * import { renderDeclarations } from "./render_declarations.ts";
 * import { TABLETOP_API } from "./skill_api.ts";
 * const text = renderDeclarations(TABLETOP_API);
 * if (!text.includes("declare function pick(id: string): void;")) throw new Error();
 * ```
 */
export function renderDeclarations(
  api: SkillApi,
  options: RenderDeclarationsOptions = {},
): string {
  const types = options.types ?? TABLETOP_TYPES;
  const named = new Map<string, NamedType>();
  const schemas = new Map<string, _Schema>();
  for (const type of types) {
    const schema = _jsonSchema(type.schema);
    const key = _key(schema);
    if (!named.has(key)) {
      named.set(key, type);
      schemas.set(type.name, schema);
    }
  }
  const used = new Set<string>();
  const renderer = new _Renderer(named, used);

  const functions: string[] = [];
  for (const skill of api.skills) {
    const params = skill.params.map((param) => {
      const schema = _jsonSchema(param.schema);
      return {
        text: `${param.name}${param.optional ? "?" : ""}: ${
          renderer.type(schema)
        }`,
        doc: [param.doc, _constraints(param.name, schema)]
          .filter((part) => part !== "").join(" "),
        name: param.name,
      };
    });
    const result = _jsonSchema(skill.result);
    const returns = result["type"] === "null" ? "void" : renderer.type(result);
    const doc = [
      ...skill.doc.split("\n"),
      ...params.map((p) =>
        `@param ${p.name}${p.doc === "" ? "" : ` ${p.doc}`}`
      ),
    ];
    functions.push(
      `${_comment(doc)}\ndeclare function ${skill.name}(${
        params.map((p) => p.text).join(", ")
      }): ${returns};`,
    );
  }

  // Interfaces for the named types used, and those they use in turn.
  const interfaces: string[] = [];
  const emitted = new Set<string>();
  for (let grew = true; grew;) {
    grew = false;
    for (const type of types) {
      if (!used.has(type.name) || emitted.has(type.name)) continue;
      emitted.add(type.name);
      grew = true;
      const schema = schemas.get(type.name);
      if (schema === undefined) continue;
      const body = renderer.type(schema, { expand: true, indent: "" });
      const head = type.doc === undefined ? "" : `${_comment([type.doc])}\n`;
      interfaces.push(
        body.startsWith("{")
          ? `${head}interface ${type.name} ${body}`
          : `${head}type ${type.name} = ${body};`,
      );
    }
  }

  const codes = SKILL_ERROR_CODES.map((code) => JSON.stringify(code)).join(
    " | ",
  );
  const error = `${
    _comment([
      "Thrown by a failed skill; catch it to recover (e.g. retry after grasp_failed).",
    ])
  }\ninterface SkillError extends Error {\n  name: "SkillError";\n  code: ${codes};\n}`;
  const header = `// Skill API ${api.version}. Every skill is synchronous: ` +
    "it returns when it has finished, or throws a SkillError.";
  return [header, ...interfaces, error, ...functions].join("\n\n") + "\n";
}

class _Renderer {
  readonly #named: Map<string, NamedType>;
  readonly #used: Set<string>;

  constructor(named: Map<string, NamedType>, used: Set<string>) {
    this.#named = named;
    this.#used = used;
  }

  /** The TypeScript type of a JSON Schema node. */
  type(
    schema: _Schema,
    options: { expand?: boolean; indent?: string } = {},
  ): string {
    const indent = options.indent ?? "";
    if (options.expand !== true) {
      const name = this.#named.get(_key(schema))?.name;
      if (name !== undefined) {
        this.#used.add(name);
        return name;
      }
    }
    const members = schema["anyOf"] ?? schema["oneOf"];
    if (Array.isArray(members)) {
      return this.#union(
        members.map((m) => this.type(m as _Schema, { indent })),
      );
    }
    if ("const" in schema) return JSON.stringify(schema["const"]);
    const choices = schema["enum"];
    if (Array.isArray(choices)) {
      return this.#union(choices.map((c) => JSON.stringify(c)));
    }
    const type = schema["type"];
    if (Array.isArray(type)) {
      return this.#union(
        type.map((t) => this.type({ ...schema, type: t }, { indent })),
      );
    }
    switch (type) {
      case "string":
        return "string";
      case "number":
      case "integer":
        return "number";
      case "boolean":
        return "boolean";
      case "null":
        return "null";
      case "array":
        return this.#array(schema, indent);
      case "object":
        return this.#object(schema, indent);
      default:
        return "unknown";
    }
  }

  #union(parts: string[]): string {
    return [...new Set(parts)].join(" | ");
  }

  #array(schema: _Schema, indent: string): string {
    const prefix = schema["prefixItems"];
    if (Array.isArray(prefix)) {
      return `[${
        prefix.map((item) => this.type(item as _Schema, { indent })).join(", ")
      }]`;
    }
    const items = schema["items"];
    if (typeof items !== "object" || items === null) return "unknown[]";
    const inner = this.type(items as _Schema, { indent });
    return /[|&]/.test(inner) && !inner.startsWith("{")
      ? `(${inner})[]`
      : `${inner}[]`;
  }

  #object(schema: _Schema, indent: string): string {
    const properties = schema["properties"];
    const extra = schema["additionalProperties"];
    if (typeof properties !== "object" || properties === null) {
      if (typeof extra === "object" && extra !== null) {
        return `Record<string, ${this.type(extra as _Schema, { indent })}>`;
      }
      return "Record<string, unknown>";
    }
    const required = new Set(
      Array.isArray(schema["required"]) ? schema["required"] as string[] : [],
    );
    const inner = `${indent}  `;
    const lines = Object.entries(properties as Record<string, _Schema>).map(
      ([key, value]) => {
        const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
        const optional = required.has(key) ? "" : "?";
        return `${inner}${name}${optional}: ${
          this.type(value, { indent: inner })
        };`;
      },
    );
    if (lines.length === 0) return "Record<string, never>";
    return `{\n${lines.join("\n")}\n${indent}}`;
  }
}

/** JSON Schema of a zod schema, without `$schema`. */
function _jsonSchema(schema: SkillSchema): _Schema {
  const json = schema.toJSONSchema({ unrepresentable: "any" }) as _Schema;
  delete json["$schema"];
  return json;
}

/** A key equal for structurally equal schemas (object keys sorted). */
function _key(schema: unknown): string {
  return JSON.stringify(schema, (_name, value: unknown) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return value;
    }
    return Object.fromEntries(
      Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}

/** Human constraints of a parameter: `0 < seconds <= 60`, `at most 200 characters`. */
function _constraints(name: string, schema: _Schema): string {
  const parts: string[] = [];
  const low = schema["exclusiveMinimum"] ?? schema["minimum"];
  const high = schema["exclusiveMaximum"] ?? schema["maximum"];
  if (typeof low === "number" || typeof high === "number") {
    const left = typeof low === "number"
      ? `${low} ${"exclusiveMinimum" in schema ? "<" : "<="} `
      : "";
    const right = typeof high === "number"
      ? ` ${"exclusiveMaximum" in schema ? "<" : "<="} ${high}`
      : "";
    parts.push(`${left}${name}${right}`);
  }
  if (schema["type"] === "integer") parts.push("an integer");
  const maxLength = schema["maxLength"];
  if (typeof maxLength === "number") {
    parts.push(`at most ${maxLength} characters`);
  }
  return parts.length === 0 ? "" : `(${parts.join(", ")})`;
}

function _comment(lines: readonly string[]): string {
  const safe = lines.map((line) => line.replaceAll("*/", "*\\/"));
  if (safe.length === 1) return `/** ${safe[0]} */`;
  return `/**\n${safe.map((line) => ` * ${line}`).join("\n")}\n */`;
}
