import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { ALLOWED_BUILTINS } from "./allowed_builtins.ts";
import { LANGUAGE_RULES } from "./language_rules.ts";

Deno.test("ALLOWED_BUILTINS lists each global once, each with a doc line", () => {
  const names = ALLOWED_BUILTINS.map((b) => b.name);
  assertEquals(new Set(names).size, names.length);
  for (const b of ALLOWED_BUILTINS) {
    assert(b.doc.length > 0 && !b.doc.includes("\n"), b.name);
  }
  assertEquals(names, [
    "Math",
    "JSON",
    "Array",
    "Object",
    "String",
    "Number",
    "Boolean",
    "Error",
    "TypeError",
    "RangeError",
    "isFinite",
    "isNaN",
    "parseFloat",
    "parseInt",
  ]);
});

Deno.test("ALLOWED_BUILTINS leaves out nondeterminism and reflection", () => {
  const members = (name: string) =>
    ALLOWED_BUILTINS.find((b) => b.name === name)?.members ?? [];
  assert(members("Math").includes("floor"));
  assert(!members("Math").includes("random"));
  assertEquals(members("JSON"), ["parse", "stringify"]);
  for (
    const reflective of [
      "getPrototypeOf",
      "setPrototypeOf",
      "defineProperty",
      "getOwnPropertyDescriptor",
      "getOwnPropertyNames",
      "create",
    ]
  ) assert(!members("Object").includes(reflective), reflective);
  assertEquals(members("String"), []);
});

Deno.test("LANGUAGE_RULES names the main refusals for the prompt", () => {
  for (
    const word of [
      "import",
      "class",
      "async",
      "this",
      "eval",
      "Math.random",
      "unknown function",
    ]
  ) assert(LANGUAGE_RULES.includes(word), word);
});
