/** One global a verified program may use besides the skills. */
export interface AllowedBuiltin {
  /** The global's name, e.g. `"Math"`. */
  readonly name: string;
  /**
   * The static members a program may read, e.g. `["floor", "PI"]`. When left
   * out, the global has no usable members: it may only be called (`String(x)`)
   * or passed as a value (`xs.map(Number)`).
   */
  readonly members?: readonly string[];
  /** One line for the LLM prompt: what it is for. */
  readonly doc: string;
}

/**
 * The globals a program may use besides the skills, with the members it may
 * read: the verifier's allow-list, and data the LLM prompt renders. Everything
 * else (`globalThis`, `eval`, `Function`, `Date`, `Math.random`, …) is refused.
 * The values `undefined`, `NaN` and `Infinity` are always allowed too.
 *
 * @example
 * ```ts
 * import { ALLOWED_BUILTINS } from "./allowed_builtins.ts";
 * const math = ALLOWED_BUILTINS.find((b) => b.name === "Math");
 * if (math?.members?.includes("random")) throw new Error("Math.random is not deterministic");
 * ```
 */
export const ALLOWED_BUILTINS: ReadonlyArray<AllowedBuiltin> = [
  {
    name: "Math",
    members: [
      "abs",
      "min",
      "max",
      "floor",
      "ceil",
      "round",
      "trunc",
      "sign",
      "sqrt",
      "cbrt",
      "pow",
      "hypot",
      "exp",
      "log",
      "log2",
      "log10",
      "sin",
      "cos",
      "tan",
      "asin",
      "acos",
      "atan",
      "atan2",
      "PI",
      "E",
      "SQRT2",
    ],
    doc:
      "Arithmetic and trigonometry, e.g. Math.hypot(dx, dy). Only as Math.<member>; no Math.random.",
  },
  {
    name: "JSON",
    members: ["parse", "stringify"],
    doc: "JSON.stringify(value) and JSON.parse(text). Only as JSON.<member>.",
  },
  {
    name: "Array",
    members: ["isArray", "from", "of"],
    doc:
      "Array.isArray(x), Array.from(iterable, mapFn?), Array.of(...items); array methods (map, filter, find, sort, …) on values work as usual.",
  },
  {
    name: "Object",
    members: ["keys", "values", "entries", "assign", "freeze", "fromEntries"],
    doc:
      "Object.keys/values/entries/assign/freeze/fromEntries. Only as Object.<member>.",
  },
  {
    name: "String",
    doc:
      'String(x) converts to a string; string methods ("a".includes, …) on values work as usual.',
  },
  {
    name: "Number",
    members: [
      "isFinite",
      "isInteger",
      "isNaN",
      "parseFloat",
      "parseInt",
      "EPSILON",
      "MAX_SAFE_INTEGER",
      "MIN_SAFE_INTEGER",
    ],
    doc:
      "Number(x) converts to a number; Number.isFinite, Number.isInteger, … as listed.",
  },
  {
    name: "Boolean",
    doc: "Boolean(x) converts to a boolean; xs.filter(Boolean) works.",
  },
  {
    name: "Error",
    doc: 'new Error("message") to throw; `e instanceof Error` in a catch.',
  },
  { name: "TypeError", doc: 'new TypeError("message").' },
  { name: "RangeError", doc: 'new RangeError("message").' },
  { name: "isFinite", doc: "isFinite(x): x converts to a finite number." },
  { name: "isNaN", doc: "isNaN(x): x converts to NaN." },
  { name: "parseFloat", doc: 'parseFloat("0.5") → 0.5.' },
  { name: "parseInt", doc: 'parseInt("12", 10) → 12.' },
];
