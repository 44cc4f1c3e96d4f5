import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { TABLETOP_API } from "../skills-bridge/mod.ts";
import { verifyProgram } from "../verifier/mod.ts";

interface Hostile {
  /** What the program tries. */
  name: string;
  source: string;
  /** The issue code that must be reported. */
  code: string;
  /**
   * Where that issue must be reported: 1-based line and column (left out
   * where it depends on the machine's stack size).
   */
  at?: [number, number];
}

/** Escape attempts and API misuse: each must be refused with its code. */
const HOSTILE: Hostile[] = [
  // Reaching the Function constructor or the global object.
  {
    name: "constructor chain from a method",
    source: '[].map.constructor("return this")()',
    code: "forbidden_property",
    at: [1, 8],
  },
  {
    name: "constructor of a skill",
    source: 'pick.constructor("return globalThis")()',
    code: "forbidden_property",
    at: [1, 6],
  },
  {
    name: "__proto__ of an object literal",
    source: "const p = ({}).__proto__;",
    code: "forbidden_property",
    at: [1, 16],
  },
  {
    name: "prototype of a builtin",
    source: "Array.prototype.map = null;",
    code: "forbidden_property",
    at: [1, 1],
  },
  {
    name: "Object.getPrototypeOf",
    source: "const p = Object.getPrototypeOf(pick);",
    code: "forbidden_property",
    at: [1, 18],
  },
  {
    name: "Object.setPrototypeOf",
    source: "Object.setPrototypeOf({}, null);",
    code: "forbidden_property",
    at: [1, 8],
  },
  {
    name: "Object.defineProperty",
    source: 'Object.defineProperty({}, "x", { value: 1 });',
    code: "forbidden_property",
    at: [1, 8],
  },
  {
    name: "Object.getOwnPropertyDescriptor",
    source: 'const d = Object.getOwnPropertyDescriptor({}, "x");',
    code: "forbidden_property",
    at: [1, 18],
  },
  {
    name: "string concatenation as a key",
    source: 'const x = {};\nx["constr" + "uctor"];',
    code: "forbidden_property",
    at: [2, 3],
  },
  {
    name: "template literal as a key",
    source: "const x = {};\nx[`constructor`];",
    code: "forbidden_property",
    at: [2, 3],
  },
  {
    name: "string literal naming a forbidden key",
    source: 'const x = {};\nx["__proto__"] = null;',
    code: "forbidden_property",
    at: [2, 3],
  },
  {
    name: "a const holding a forbidden name as a key",
    source: 'const k = "constructor";\npick[k]("return globalThis")();',
    code: "forbidden_property",
    at: [2, 6],
  },
  {
    name: "a let built up to a forbidden name in a loop",
    source:
      'let k = "";\nfor (const part of ["con", "struc", "tor"]) k += part;\npick[k];',
    code: "forbidden_property",
    at: [3, 6],
  },
  {
    name: "a forbidden name passed through a helper's parameter",
    source: 'function get(o, k) { return o[k]; }\nget(pick, "constructor");',
    code: "forbidden_property",
    at: [1, 31],
  },
  {
    name: "a forbidden name in a template key",
    source: 'const p = "proto";\nconst o = {}[`__${p}__`];',
    code: "forbidden_property",
    at: [2, 14],
  },
  {
    name: "computed key from a call",
    source: "const x = {};\nx[String.fromCharCode(99)];",
    code: "forbidden_property",
    at: [2, 3],
  },
  {
    name: "destructuring the constructor",
    source: "const { constructor: F } = pick;",
    code: "forbidden_property",
    at: [1, 9],
  },
  {
    name: "computed destructuring of the constructor",
    source: 'let c;\n({ ["constructor"]: c } = pick);',
    code: "forbidden_property",
    at: [2, 5],
  },
  {
    name: "__proto__ key in an object literal",
    source: "const o = { __proto__: Array };",
    code: "forbidden_property",
    at: [1, 13],
  },
  {
    name: "arguments.callee",
    source: "function f() { return arguments.callee; }",
    code: "forbidden_identifier",
    at: [1, 23],
  },
  {
    name: "__lookupGetter__",
    source: 'const g = ({}).__lookupGetter__("__proto__");',
    code: "forbidden_property",
    at: [1, 16],
  },
  {
    name: "unicode-escaped eval",
    source: '\\u0065val("1")',
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "indirect eval",
    source: '(0, eval)("this")',
    code: "forbidden_identifier",
    at: [1, 5],
  },
  {
    name: "Function constructor",
    source: 'Function("return this")()',
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "globalThis.Deno",
    source: "const d = globalThis.Deno;",
    code: "forbidden_identifier",
    at: [1, 11],
  },
  {
    name: "this.Deno",
    source: "this.Deno.exit(1);",
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "Deno.exit",
    source: "Deno.exit();",
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "dynamic import",
    source: 'import("data:text/javascript,1");',
    code: "forbidden_syntax",
    at: [1, 1],
  },
  {
    name: "static import",
    source: 'say("hi");\nimport fs from "node:fs";',
    code: "forbidden_syntax",
    at: [2, 1],
  },
  {
    name: "Reflect.get",
    source: 'Reflect.get({}, "x");',
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "Proxy",
    source: "const p = new Proxy({}, {});",
    code: "forbidden_identifier",
    at: [1, 15],
  },
  {
    name: "Symbol.iterator",
    source: "const it = Symbol.iterator;",
    code: "forbidden_identifier",
    at: [1, 12],
  },
  {
    name: "Date.now",
    source: "const t = Date.now();",
    code: "forbidden_identifier",
    at: [1, 11],
  },
  {
    name: "Math.random",
    source: "const r = Math.random();",
    code: "forbidden_property",
    at: [1, 16],
  },
  {
    name: "aliasing Math to reach random",
    source: "const M = Math;\nM.random();",
    code: "forbidden_identifier",
    at: [1, 11],
  },
  {
    name: "setTimeout",
    source: "setTimeout(() => {}, 0);",
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "Promise",
    source: "Promise.resolve().then(() => {});",
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "SharedArrayBuffer and Atomics",
    source: "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);",
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "console",
    source: 'console.log("x");',
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "WebAssembly",
    source: "WebAssembly.compile(new Uint8Array(8));",
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "implicit global",
    source: "leaked = 1;",
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "overwriting a skill",
    source: "detect = () => [];",
    code: "forbidden_identifier",
    at: [1, 1],
  },
  {
    name: "shadowing a skill",
    source: "function pick(id) { return id; }",
    code: "forbidden_identifier",
    at: [1, 10],
  },
  {
    name: "shadowing a builtin",
    source: "let Math = { random: () => 4 };",
    code: "forbidden_identifier",
    at: [1, 5],
  },
  {
    name: "patching a builtin",
    source: "JSON.parse = (s) => s;",
    code: "forbidden_property",
    at: [1, 1],
  },
  // Forbidden syntax.
  {
    name: "async function",
    source: "async function f() {}",
    code: "forbidden_syntax",
    at: [1, 1],
  },
  {
    name: "top-level await",
    source: 'await pick("red_block");',
    code: "forbidden_syntax",
    at: [1, 1],
  },
  {
    name: "generator",
    source: "function* g() { yield 1; }",
    code: "forbidden_syntax",
    at: [1, 1],
  },
  {
    name: "class",
    source: "class A {}",
    code: "forbidden_syntax",
    at: [1, 1],
  },
  {
    name: "getter",
    source: "const o = { get x() { return 1; } };",
    code: "forbidden_syntax",
    at: [1, 13],
  },
  {
    name: "with",
    source: "const o = {};\nwith (o) {}",
    code: "forbidden_syntax",
    at: [2, 1],
  },
  {
    name: "debugger",
    source: "debugger;",
    code: "forbidden_syntax",
    at: [1, 1],
  },
  {
    name: "labelled loop",
    source: "outer: for (;;) { break outer; }",
    code: "forbidden_syntax",
    at: [1, 1],
  },
  {
    name: "regular expression (ReDoS)",
    source: 'const ok = /^(a+)+$/.test("aaaaaaaaaaaaaaaaaaaaaaaaaaaa!");',
    code: "forbidden_syntax",
    at: [1, 12],
  },
  {
    name: "tagged template",
    source: "const t = (s) => s;\nt`x`;",
    code: "forbidden_syntax",
    at: [2, 1],
  },
  {
    name: "new.target",
    source: "function f() { return new.target; }",
    code: "forbidden_syntax",
    at: [1, 23],
  },
  {
    name: "syntax error",
    source: 'pick("a"\nplace("b");',
    code: "syntax_error",
    at: [2, 1],
  },
  {
    name: "too large",
    source: `say("${"x".repeat(70000)}");`,
    code: "too_large",
    at: [1, 1],
  },
  {
    name: "nesting bomb",
    source: "const a = " + "[".repeat(20000) + "]".repeat(20000) + ";",
    code: "too_large",
  },
  // API misuse.
  {
    name: "pick without an id",
    source: "pick();",
    code: "bad_arity",
    at: [1, 1],
  },
  {
    name: "place with two targets",
    source: 'place("a", "b");',
    code: "bad_arity",
    at: [1, 1],
  },
  {
    name: "holding with an argument",
    source: 'const h = holding("x");',
    code: "bad_arity",
    at: [1, 11],
  },
  {
    name: "place at NaN",
    source: "place({ x: NaN, y: 0 });",
    code: "bad_argument",
    at: [1, 7],
  },
  {
    name: "place with an extra key",
    source: "place({ x: 0.1, y: -0.5, z: 1 });",
    code: "bad_argument",
    at: [1, 7],
  },
  {
    name: "pick a number",
    source: "pick(42);",
    code: "bad_argument",
    at: [1, 6],
  },
  {
    name: "pick an object",
    source: 'pick({ id: "a" });',
    code: "bad_argument",
    at: [1, 6],
  },
  {
    name: "pick an id with spaces",
    source: 'pick("red block");',
    code: "bad_argument",
    at: [1, 6],
  },
  {
    name: "wait zero seconds",
    source: "wait(0);",
    code: "bad_argument",
    at: [1, 6],
  },
  {
    name: "wait too long",
    source: "wait(1000);",
    code: "bad_argument",
    at: [1, 6],
  },
  {
    name: "say a number",
    source: "say(-1);",
    code: "bad_argument",
    at: [1, 5],
  },
  {
    name: "call a helper that was never written",
    source: 'stack_blocks("red_block", "blue_block");',
    code: "unknown_function",
    at: [1, 1],
  },
];

/** Code-as-Policies style programs that must verify clean. */
const GOOD: Array<{ name: string; source: string }> = [
  {
    name: "match each block to the bowl of its colour (lookup by colour)",
    source: `
const bowlFor = {};
for (const bowl of detect("bowl")) bowlFor[bowl.color] = bowl.id;
for (const block of detect("block")) {
  const target = bowlFor[block.color];
  if (target === undefined) continue;
  pick(block.id);
  place(target);
}
`,
  },
  {
    name: "ids built from parts",
    source: `
const colors = ["red", "green", "blue"];
const placed = {};
for (const c of colors) {
  const blockId = c + "_block";
  const bowlId = \`\${c}_bowl\`;
  if (detect(c + " block").length === 0) continue;
  pick(blockId);
  place(bowlId);
  placed["done_" + c] = true;
}
say(Object.keys(placed).length + " placed");
`,
  },

  {
    name: "stack all blocks",
    source: `
const blocks = detect("block");
for (let i = 1; i < blocks.length; i++) {
  pick(blocks[i].id);
  place(blocks[i - 1].id);
}
say("stacked " + blocks.length + " blocks");
`,
  },
  {
    name: "sort blocks into matching bowls",
    source: `
const bowls = detect("bowl");
for (const block of detect("block")) {
  const bowl = bowls.find((b) => b.color === block.color);
  if (!bowl) {
    say(\`no \${block.color} bowl\`);
    continue;
  }
  pick(block.id);
  place(bowl.id);
}
`,
  },
  {
    name: "spatial placement left of a block",
    source: `
const [b] = detect("blue block");
const red = detect("red block")[0];
if (b !== undefined && red !== undefined) {
  pick(red.id);
  place({ x: b.x - 0.1, y: b.y });
}
`,
  },
  {
    name: "retry after a slip",
    source: `
function pickWithRetry(id, attempts = 3) {
  for (let i = 0; i < attempts; i++) {
    try {
      pick(id);
      return true;
    } catch (e) {
      if (e.code === "grasp_failed") {
        wait(0.5);
        continue;
      }
      throw e;
    }
  }
  return false;
}
if (pickWithRetry("red_block")) place("blue_bowl");
`,
  },
  {
    name: "helpers, arrows, destructuring and indexing",
    source: `
const ws = workspace();
const { xMin, xMax, yMin, yMax } = ws;
const centre = { x: (xMin + xMax) / 2, y: (yMin + yMax) / 2 };
const dist = (o) => Math.hypot(o.x - centre.x, o.y - centre.y);
function byDistance(objs) {
  return [...objs].sort((a, b) => dist(a) - dist(b));
}
const objs = byDistance(detect("block").filter((o) => o.on === null));
const nearest = objs[0];
const farthest = objs[objs.length - 1];
if (nearest && farthest && nearest.id !== farthest.id) {
  pick(farthest.id);
  place(nearest.id);
}
const counts = {};
for (const o of detect()) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
for (const [kind, n] of Object.entries(counts)) say(kind + ": " + n);
say(JSON.stringify({ held: holding(), n: Number.isInteger(objs.length) }));
`,
  },
  {
    name: "line blocks up along x",
    source: `
const { xMin, xMax } = workspace();
const blocks = detect("block");
const step = (xMax - xMin) / Math.max(blocks.length, 1);
blocks.forEach((block, i) => {
  pick(block.id);
  place({ x: xMin + step * (i + 0.5), y: -0.5 });
});
if (holding() !== null) throw new Error("still holding " + holding());
`,
  },
  {
    name: "switch, while and do-while",
    source: `
let tries = 0;
do {
  tries++;
} while (tries < 2);
while (holding() !== null) {
  place({ x: 0, y: -0.5 });
}
for (const o of detect()) {
  switch (o.kind) {
    case "block":
      say("block " + o.id);
      break;
    default:
      say("other " + o.id);
  }
}
`,
  },
];

Deno.test("the verifier refuses every hostile program with its code and place", () => {
  assert(HOSTILE.length >= 40);
  for (const h of HOSTILE) {
    const report = verifyProgram(h.source, { api: TABLETOP_API });
    assertEquals(report.ok, false, `${h.name}: accepted`);
    const found = report.issues.find((i) => i.code === h.code);
    assert(
      found !== undefined,
      `${h.name}: no ${h.code} in ${JSON.stringify(report.issues)}`,
    );
    if (h.at !== undefined) {
      assertEquals(
        [found.line, found.column],
        h.at,
        `${h.name}: ${found.message}`,
      );
    }
    assert(found.message.length > 0);
  }
});

Deno.test("the verifier accepts Code-as-Policies style programs", () => {
  for (const g of GOOD) {
    const report = verifyProgram(g.source, { api: TABLETOP_API });
    assertEquals(report, { ok: true, issues: [] }, g.name);
  }
});

Deno.test("the verifier names missing helpers for the repair loop", () => {
  const report = verifyProgram(
    'const blocks = detect("block");\nstack_blocks(blocks);\nsort_by_size(blocks);',
    { api: TABLETOP_API },
  );
  assertEquals(
    report.issues.map((i) => [i.code, i.line, i.message.split(":")[0]]),
    [
      ["unknown_function", 2, 'unknown function "stack_blocks"'],
      ["unknown_function", 3, 'unknown function "sort_by_size"'],
    ],
  );
});

Deno.test("the verifier keeps checks to query skills", () => {
  const check = (expr: string) =>
    verifyProgram(expr, { api: TABLETOP_API, mode: "check" });
  assertEquals(
    check('detect("red block")[0].on === "blue_bowl"'),
    { ok: true, issues: [] },
  );
  assertEquals(
    check('detect("block").every((b) => b.on !== null) && holding() === null')
      .ok,
    true,
  );
  assertEquals(
    check('pick("red_block") === undefined').issues.map((i) => i.code),
    ["forbidden_identifier"],
  );
  assertEquals(
    check("wait(1), holding() === null").issues.map((i) => i.code),
    ["forbidden_identifier"],
  );
  assertEquals(
    check("holding() === null; Deno.exit()").issues.map((i) => i.code),
    ["syntax_error"],
  );
});

Deno.test("string methods that need regular expressions are refused", () => {
  const report = verifyProgram(
    'const s = "red block";\nconst m = s.match("red");',
    { api: TABLETOP_API },
  );
  if (
    report.ok || report.issues[0]?.code !== "forbidden_property" ||
    report.issues[0]?.line !== 2
  ) {
    throw new Error(
      `expected forbidden_property at line 2, got ${
        JSON.stringify(report.issues)
      }`,
    );
  }
});
