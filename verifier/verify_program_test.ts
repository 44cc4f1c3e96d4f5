import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import * as acorn from "acorn";
import { z } from "zod";
import { listUnknownFunctions, verifyProgram } from "./verify_program.ts";
import type { VerifierApi } from "./verifier_api.ts";
import type { VerifierIssue } from "./verifier_issue.ts";

/** A hand-written schema: anything with zod's `safeParse` shape fits. */
const positiveSeconds = {
  safeParse(v: unknown) {
    return typeof v === "number" && v > 0 && v <= 60 ? { success: true } : {
      success: false,
      error: { issues: [{ message: "must be in (0, 60]", path: [] }] },
    };
  },
};

const id = z.string().min(1).regex(/^[a-z_]+$/);
const API: VerifierApi = {
  skills: [
    {
      name: "detect",
      kind: "query",
      params: [{ name: "query", optional: true, schema: z.string().max(20) }],
    },
    { name: "holding", kind: "query", params: [] },
    {
      name: "pick",
      kind: "action",
      params: [{ name: "id", optional: false, schema: id }],
    },
    {
      name: "place",
      kind: "action",
      params: [{
        name: "target",
        optional: false,
        schema: z.union([
          id,
          z.strictObject({ x: z.number().finite(), y: z.number().finite() }),
        ]),
      }],
    },
    {
      name: "wait",
      kind: "action",
      params: [{ name: "seconds", optional: false, schema: positiveSeconds }],
    },
    {
      name: "move",
      kind: "action",
      params: [
        { name: "dx", optional: false, schema: z.number() },
        { name: "dy", optional: true, schema: z.number() },
      ],
    },
  ],
};

function assertStringIncludes(actual: string, expected: string): void {
  assert(
    actual.includes(expected),
    `${JSON.stringify(actual)} lacks ${JSON.stringify(expected)}`,
  );
}

function verify(source: string, mode: "program" | "check" = "program") {
  return verifyProgram(source, { api: API, mode });
}

/** The issues as `code@line:column`, for compact assertions. */
function where(source: string, mode: "program" | "check" = "program") {
  return verify(source, mode).issues.map((i) =>
    `${i.code}@${i.line}:${i.column}`
  );
}

function only(source: string, mode: "program" | "check" = "program") {
  const report = verify(source, mode);
  assertEquals(report.ok, false, `expected issues for ${source}`);
  assertEquals(report.issues.length, 1, JSON.stringify(report.issues));
  return report.issues[0] as VerifierIssue;
}

Deno.test("verifyProgram accepts a plain program and reports nothing", () => {
  const source = `
function stackOn(base, top) {
  pick(top.id);
  place(base.id);
}
const blocks = detect("block").filter((b) => b.on === null);
for (let i = 1; i < blocks.length; i++) {
  stackOn(blocks[i - 1], blocks[blocks.length - 1]);
}
const [first, ...rest] = blocks;
const { x, y } = first;
place({ x: x - 0.1, y: Math.max(y, -0.5) });
wait(1.5);
move(0.1);
move(0.1, -0.2);
try { pick("a") } catch (e) { if (e.code !== "grasp_failed") throw e; }
`;
  assertEquals(verify(source), { ok: true, issues: [] });
});

Deno.test("verifyProgram reports syntax errors with acorn's line and column", () => {
  const issue = only("let a = 1;\nlet b = ;");
  assertEquals(issue.code, "syntax_error");
  assertEquals([issue.line, issue.column], [2, 9]);
  assertStringIncludes(issue.message, "Unexpected token");
});

Deno.test("verifyProgram refuses sources over maxBytes, counting UTF-8 bytes", () => {
  const report = verifyProgram('detect("é")', { api: API, maxBytes: 11 });
  assertEquals(report.ok, false);
  assertEquals(report.issues.map((i) => i.code), ["too_large"]);
  assertStringIncludes(report.issues[0]?.message ?? "", "12 bytes");
  assertEquals(
    verifyProgram('detect("e")', { api: API, maxBytes: 11 }).ok,
    true,
  );
  // A huge source is refused without being parsed.
  assertEquals(where("(".repeat(5_000_000)), ["too_large@1:1"]);
});

Deno.test("verifyProgram reports deep nesting as too_large instead of crashing", () => {
  for (
    const source of [
      "(".repeat(20000) + "1" + ")".repeat(20000),
      "[".repeat(30000) + "]".repeat(30000),
      "{".repeat(30000) + "}".repeat(30000),
      "-".repeat(60000) + "1",
      "x" + "[0]".repeat(20000),
      "f(".repeat(20000) + ")".repeat(20000),
    ]
  ) {
    const report = verify(source);
    assertEquals(report.ok, false);
    assert(
      report.issues.some((i) => i.code === "too_large"),
      JSON.stringify(report.issues),
    );
  }
});

Deno.test("verifyProgram never throws on odd input", () => {
  for (const source of ["", "\u0000", "\uD800", "/*", "`${", "\\u{110000}"]) {
    const report = verify(source);
    assertEquals(report.ok, report.issues.length === 0);
  }
  const bad = verifyProgram(42 as unknown as string, { api: API });
  assertEquals(bad.issues.map((i) => i.code), ["syntax_error"]);
});

Deno.test("verifyProgram reports import/export as forbidden_syntax", () => {
  assertEquals(where('import x from "y";\npick("a")'), [
    "forbidden_syntax@1:1",
  ]);
  assertEquals(where("const a = 1;\nexport { a };"), ["forbidden_syntax@2:1"]);
  assertEquals(where('import("x")'), ["forbidden_syntax@1:1"]);
  assertEquals(where("import.meta.url"), ["forbidden_syntax@1:1"]);
  // With a module-only construct, the rest is still checked.
  assertEquals(where('export const a = 1;\neval("1")'), [
    "forbidden_syntax@1:1",
    "forbidden_identifier@2:1",
  ]);
});

Deno.test("verifyProgram reports each forbidden construct", () => {
  const cases: Array<[string, string]> = [
    ["with (o) {}", "forbidden_syntax@1:1"],
    ["debugger;", "forbidden_syntax@1:1"],
    ["outer: for (;;) { break outer; }", "forbidden_syntax@1:1"],
    ["class A {}", "forbidden_syntax@1:1"],
    ["const A = class {};", "forbidden_syntax@1:11"],
    ["async function f() {}", "forbidden_syntax@1:1"],
    ["const f = async () => 1;", "forbidden_syntax@1:11"],
    ["function* g() {}", "forbidden_syntax@1:1"],
    ["({ get x() { return 1; } });", "forbidden_syntax@1:4"],
    ["({ set x(v) {} });", "forbidden_syntax@1:4"],
    ["function f() { return new.target; }", "forbidden_syntax@1:23"],
    ["const r = /a+$/;", "forbidden_syntax@1:11"],
    ["const t = 1;\nconst s = String.raw`x${t}`;", "forbidden_syntax@2:11"],
    ["({ m() { return super.x; } });", "forbidden_syntax@1:17"],
    ["for await (const x of []) {}", "forbidden_syntax@1:1"],
  ];
  for (const [source, expected] of cases) {
    assert(where(source).includes(expected), `${source}: ${where(source)}`);
  }
});

Deno.test("verifyProgram refuses globals outside the allowed set, decoded", () => {
  assertEquals(where("globalThis.x"), ["forbidden_identifier@1:1"]);
  assertEquals(where("const a = 1;\n  this.x"), ["forbidden_identifier@2:3"]);
  assertEquals(where('\\u0065val("1")'), ["forbidden_identifier@1:1"]);
  assertStringIncludes(only('\\u0065val("1")').message, '"eval"');
  assertEquals(where('(0, eval)("1")'), ["forbidden_identifier@1:5"]);
  assertEquals(where("Date.now()"), ["forbidden_identifier@1:1"]);
  assertEquals(where("function f() { return arguments[0]; }"), [
    "forbidden_identifier@1:23",
  ]);
  // A call to a known host global is forbidden, not a missing helper.
  assertEquals(where("setTimeout(() => 1)"), ["forbidden_identifier@1:1"]);
  assertEquals(where("new Proxy({}, {})"), ["forbidden_identifier@1:5"]);
});

Deno.test("verifyProgram does real scope analysis", () => {
  // Hoisted function declarations and vars are visible before they appear.
  assertEquals(
    where(
      "f();\nfunction f() { v = 1; var v; return g(); }\nfunction g() { return 1; }",
    ),
    [],
  );
  // Block-scoped names are not visible outside their block.
  assertEquals(where("{ let a = 1; }\na;"), ["forbidden_identifier@2:1"]);
  assertEquals(where("for (let i = 0; i < 2; i++) {}\ni;"), [
    "forbidden_identifier@2:1",
  ]);
  assertEquals(where("if (true) { const h = () => 1; }\nh();"), [
    "unknown_function@2:1",
  ]);
  // Parameters, catch parameters and destructured names are declared.
  assertEquals(
    where(
      "function f({ a, b: [c] }, ...d) { return a + c + d.length; }\ntry { f({ b: [1] }); } catch ({ message }) { detect(message); }",
    ),
    [],
  );
  // A parameter is not visible outside its function.
  assertEquals(where("function f(p) { return p; }\np;"), [
    "forbidden_identifier@2:1",
  ]);
  // Assigning to an undeclared name would create a global.
  assertEquals(where("x = 1;"), ["forbidden_identifier@1:1"]);
});

Deno.test("verifyProgram refuses declaring or assigning skills and builtins", () => {
  assertEquals(where("function pick() {}"), ["forbidden_identifier@1:10"]);
  assertEquals(where("let Math = {};"), ["forbidden_identifier@1:5"]);
  assertEquals(where("detect = null;"), ["forbidden_identifier@1:1"]);
  assertEquals(where("const { a: undefined } = {};"), [
    "forbidden_identifier@1:12",
  ]);
  assertEquals(where("function f(eval) {}"), ["forbidden_identifier@1:12"]);
  assertEquals(where("for (pick of []) {}"), ["forbidden_identifier@1:6"]);
});

Deno.test("verifyProgram refuses dangerous property names everywhere", () => {
  const cases: Array<[string, string]> = [
    ["const a = [];\na.constructor;", "forbidden_property@2:3"],
    ["({}).__proto__;", "forbidden_property@1:6"],
    ['const a = {};\na["prototype"];', "forbidden_property@2:3"],
    ["const a = {};\na[`constructor`];", "forbidden_property@2:3"],
    ["({ __proto__: null });", "forbidden_property@1:4"],
    ['({ ["constructor"]: 1 });', "forbidden_property@1:5"],
    ["const { constructor: c } = pick;", "forbidden_property@1:9"],
    ['let c;\n({ ["constructor"]: c } = {});', "forbidden_property@2:5"],
    ["function f() {}\nf.caller;", "forbidden_property@2:3"],
    ["const o = {};\no?.__lookupGetter__;", "forbidden_property@2:4"],
  ];
  for (const [source, expected] of cases) {
    assertEquals(where(source), [expected], source);
  }
});

Deno.test("verifyProgram allows only provably safe computed keys", () => {
  const ok = [
    "const a = [1, 2];\na[0]; a[-1]; a[a.length - 1]; a[a.length * 2 % 3];",
    "const a = [1];\nlet i = 0;\na[i]; a[i + 1]; a[i++]; a[i ? 0 : 1];",
    'const a = {};\na["x"]; a[`y`];',
    "const k = 1;\n({ [k]: 1, [k + 1]: 2 });",
    // The number's text cannot spell a forbidden name, whatever it is.
    'const a = {}, k = 1;\na[`${k}`]; a[String(k)]; a[k + "x"]; a[(k, "x")];',
    'const k = 1;\n({ ["a" + k]: 1 });',
    "for (let i = 0; i < 3; i += 1) [1, 2, 3][i];",
  ];
  for (const source of ok) assertEquals(where(source), [], source);
  const bad: Array<[string, string]> = [
    ['const a = {};\na["constr" + "uctor"];', "forbidden_property@2:3"],
    ['const a = {};\na[("" + a).slice(0, 1)];', "forbidden_property@2:3"],
    // A property read of the program's own object: it may hold any string.
    ["const a = [1], o = { k: 0 };\na[o.k];", "forbidden_property@2:3"],
    ["function f(k) { return {}[k]; }", "forbidden_property@1:27"],
    [
      "function f(a) {\n  for (const k in a) a[k];\n}",
      "forbidden_property@2:24",
    ],
  ];
  for (const [source, expected] of bad) {
    assertEquals(where(source), [expected], source);
  }
});

Deno.test("verifyProgram applies one key rule however the key is spelled", () => {
  // Each group: the same key spelled every way; all refused or all accepted.
  const refused = [
    "o.constructor",
    'o["constructor"]',
    "o[`constructor`]",
    'o["\\u0063onstructor"]',
    'o["constr" + "uctor"]',
    'o[`constr${"uctor"}`]',
    'const k = "constructor";\no[k]',
    'const k = "constr" + "uctor";\no[k]',
    'const a = "constr", b = "uctor";\no[a + b]',
    'const a = "constr";\no[`${a}uctor`]',
    'let k = "onstructor";\nk = "c" + k;\no[k]',
    'const k = ["constructor"];\no[k]',
    'const { k } = { k: "constructor" };\no[k]',
    'const ks = ["x", "constructor"];\nfor (const k of ks) o[k];',
    'function f(k) { return o[k]; }\nf("constructor")',
    'const k = "__proto__";\n({ [k]: 1 })',
    'const k = "prototype";\nconst { [k]: p } = o;',
  ];
  for (const body of refused) {
    const source = `const o = {};\n${body};`;
    const report = verify(source);
    assert(!report.ok, `accepted: ${source}`);
    assert(
      report.issues.every((i) => i.code === "forbidden_property"),
      `${source}: ${JSON.stringify(report.issues)}`,
    );
  }
  const accepted = [
    'o["blue_" + c]',
    "o[`${c}_block`]",
    'const k = "blue_" + c;\no[k]',
    "const k = `${c}_block`;\no[k]",
    'o["blue_" + c + "_bowl"]',
    'let k = "blue_";\nk += c;\no[k]',
    'const k = c.length > 2 ? "a_" + c : "b_" + c;\no[k]',
    "o[typeof c]",
    'o[c === "red" ? "red_bowl" : "blue_bowl"]',
    'const k = "red";\no[k]',
  ];
  for (const body of accepted) {
    const source = `const o = {}, c = detect()[0].id;\n${body};`;
    assertEquals(verify(source), { ok: true, issues: [] }, source);
  }
});

Deno.test("verifyProgram names the forbidden value a computed key can take", () => {
  const issue = only('const o = {}, k = "construc" + "tor";\no[k];');
  assertEquals(issue.code, "forbidden_property");
  assertStringIncludes(issue.message, 'it can be "constructor"');
});

Deno.test("verifyProgram accepts ordinary CaP keys: skill data, lookups, ids from parts", () => {
  const programs = [
    // Matching bowls by colour: a lookup table keyed by a skill result's colour.
    `const bowlFor = {};
for (const bowl of detect("bowl")) bowlFor[bowl.color] = bowl;
for (const block of detect("block")) {
  const bowl = bowlFor[block.color];
  if (bowl) { pick(block.id); place(bowl.id); }
}`,
    // The same with callbacks and destructuring.
    `const byColor = {};
detect("bowl").forEach((b) => { byColor[b.color] = b.id; });
const blocks = detect("block").filter((b) => b.on === null);
for (const { id, color } of blocks) {
  if (byColor[color] !== undefined) { pick(id); place(byColor[color]); }
}`,
    // Ids built from parts.
    `const colors = ["red", "green", "blue"];
const seen = {};
for (const c of colors) {
  const id = c + "_block";
  seen[\`\${c}_bowl\`] = detect(c + " bowl").length;
  seen["n_" + c] = 0;
  if (seen[id] === undefined) seen[id] = 1;
}`,
    // Copies, sorts and maps of skill results.
    `const seen = {};
const ids = detect("block").map((b) => b.id);
for (const id of ids) seen[id] = true;
const sorted = [...detect()].sort((a, b) => a.x - b.x);
for (const o of sorted) seen[o.kind] = o.id;`,
    // The keys of the program's own, closed object.
    `const counts = {};
for (const o of detect()) {
  const key = o.color + " " + o.kind;
  counts[key] = (counts[key] || 0) + 1;
}
const text = Object.keys(counts).map((key) => counts[key] + " x " + key).join(", ");
let all = text;
for (const k in counts) all += k + ": " + counts[k];
const ks = Object.keys(counts);
for (let i = 0; i < ks.length; i++) counts[ks[i]] = 0;`,
    // Counting kinds; the held object.
    `const counts = {};
for (const o of detect()) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
const held = holding();
if (held !== null) counts[held] = 1;
const all = detect();
for (let i = 0; i < all.length; i++) counts[all[i].id] = i;`,
  ];
  for (const source of programs) {
    assertEquals(verify(source), { ok: true, issues: [] }, source);
  }
});

Deno.test("verifyProgram: skill data the program may have changed is no longer safe", () => {
  const refused = [
    // The field is written somewhere.
    `const m = {};
for (const o of detect()) { o.color = "constructor"; m[o.color]; }`,
    // New elements pushed into the skill's result.
    `const m = {};
const objs = detect();
objs.push({ id: "constructor" });
for (const o of objs) m[o.id];`,
    // An element replaced through a callback's array parameter.
    `const m = {};
const objs = detect();
objs.forEach((o, i, all) => { all[i] = { id: "__proto__" }; });
for (const o of objs) m[o.id];`,
    // New elements pushed into a copy of the skill's result.
    `const m = {};
const objs = [...detect()];
objs.push({ kind: "constructor" });
for (const o of objs) m[o.kind];`,
    // A map whose callback builds strings.
    `const m = {};
for (const k of detect().map((o) => o.id + "x")) m[k];`,
    // Keys of an object that escaped (Object.assign can add any key).
    `const a = {};
Object.assign(a, JSON.parse('{"constructor": 1}'));
for (const k of Object.keys(a)) a[k];`,
    // A key list the program changed.
    `const a = { x: 1 };
const ks = Object.keys(a);
ks.push("constructor");
for (const k of ks) a[k];`,
    // Keys built from the keys themselves.
    `const a = { x: 1 };
for (const k of Object.keys(a)) a["con" + k] = 1;
for (const k of Object.keys(a)) a[k];`,
    // Object.assign into a skill result.
    `const m = {};
const o = detect()[0];
Object.assign(o, { id: "prototype" });
m[o.id];`,
    // A derived string: assembled from pieces of skill data.
    `const m = {};
const o = detect()[0];
m[o.id.slice(0, 3) + o.color.slice(1)];`,
  ];
  for (const source of refused) {
    const report = verify(source);
    assert(
      report.issues.some((i) => i.code === "forbidden_property"),
      `accepted: ${source}`,
    );
  }
});

Deno.test("verifyProgram allows only listed members of builtins, read-only", () => {
  assertEquals(
    where(
      "Math.floor(Math.PI); JSON.stringify(Object.keys({})); Array.isArray([]); Number.isFinite(1); String(1); [1].map(Number); new Error('x');",
    ),
    [],
  );
  assertEquals(where("Math.random();"), ["forbidden_property@1:6"]);
  assertStringIncludes(only("Math.random();").message, "Math.random");
  assertEquals(where("Object.getPrototypeOf({});"), [
    "forbidden_property@1:8",
  ]);
  assertEquals(where("String.fromCharCode(99);"), ["forbidden_property@1:8"]);
  assertEquals(where("Math.floor = null;"), ["forbidden_property@1:1"]);
  assertEquals(where("JSON.parse = null;"), ["forbidden_property@1:1"]);
  assertEquals(where("pick.x = 1;"), ["forbidden_property@1:1"]);
  assertEquals(where("delete Math.PI;"), ["forbidden_property@1:8"]);
  assertEquals(where("Object.assign(Math, {});"), [
    "forbidden_identifier@1:15",
    "forbidden_property@1:15",
  ]);
  // Object, Math and JSON cannot be aliased (that would bypass the list).
  assertEquals(where("const O = Object;"), ["forbidden_identifier@1:11"]);
  assertEquals(where("const { random } = Math;"), [
    "forbidden_identifier@1:20",
  ]);
});

Deno.test("verifyProgram reports calls to undeclared names as unknown_function", () => {
  const issue = only('detect("a");\nstack_blocks(1, 2);');
  assertEquals(issue.code, "unknown_function");
  assertEquals([issue.line, issue.column], [2, 1]);
  assertStringIncludes(issue.message, 'unknown function "stack_blocks"');
  assertEquals(where("new Helper();"), ["unknown_function@1:5"]);
  // Member calls on values are fine.
  assertEquals(
    where('const s = "ab";\ns.includes("a"); detect().map((o) => o.id);'),
    [],
  );
});

Deno.test("verifyProgram checks skill arity", () => {
  assertEquals(where('pick();\npick("a", "b");'), [
    "bad_arity@1:1",
    "bad_arity@2:1",
  ]);
  assertStringIncludes(
    only("pick();").message,
    "takes 1 argument(s) (id), got 0",
  );
  assertEquals(where("detect(); detect('a'); move(1); move(1, 2);"), []);
  assertEquals(where("move();"), ["bad_arity@1:1"]);
  assertEquals(where("move(1, 2, 3);"), ["bad_arity@1:1"]);
  assertEquals(where("holding(1);"), ["bad_arity@1:1"]);
  // Spread arguments skip the arity check.
  assertEquals(where("const a = [];\npick(...a); move(...a, 1, 2, 3);"), []);
});

Deno.test("verifyProgram checks literal skill arguments against the schemas", () => {
  const issue = only('pick("a");\npick(42);');
  assertEquals(issue.code, "bad_argument");
  assertEquals([issue.line, issue.column], [2, 6]);
  assertStringIncludes(issue.message, 'pick: argument "id"');
  assertStringIncludes(issue.message, "expected string");
  assertEquals(where("wait(0);"), ["bad_argument@1:6"]);
  assertStringIncludes(only("wait(0);").message, "must be in (0, 60]");
  assertEquals(where("wait(-1);"), ["bad_argument@1:6"]);
  assertEquals(where("place({ x: NaN, y: 0 });"), ["bad_argument@1:7"]);
  assertStringIncludes(only("place({ x: 0, y: Infinity });").message, "y:");
  assertEquals(where('place({ id: "a" });'), ["bad_argument@1:7"]);
  assertEquals(where("place([1, 2]);"), ["bad_argument@1:7"]);
  assertEquals(where("move(1, true);"), ["bad_argument@1:9"]);
  assertEquals(where("detect(`${'x'.repeat(30)}`);"), []); // not a literal
  assertEquals(where('detect("' + "x".repeat(30) + '");'), [
    "bad_argument@1:8",
  ]);
  // Fine literals, an omitted optional, and non-literals pass.
  assertEquals(
    where(
      'place({ x: -0.1, y: +0.5 }); place("bowl"); place(`bowl`); detect(undefined); wait(1);\nconst s = 0; wait(s);',
    ),
    [],
  );
});

Deno.test("verifyProgram reports every issue, in source order", () => {
  const report = verify(
    "debugger;\nconst a = globalThis;\nMath.random();\nhelper();\npick();\nwait(0);\n({}).constructor;\nlet b = ;",
  );
  // A syntax error stops the walk: fix it first.
  assertEquals(report.issues.map((i) => i.code), ["syntax_error"]);
  const all = verify(
    "debugger;\nconst a = globalThis;\nMath.random();\nhelper();\npick();\nwait(0);\n({}).constructor;",
  );
  assertEquals(all.ok, false);
  assertEquals(all.issues.map((i) => `${i.code}@${i.line}`), [
    "forbidden_syntax@1",
    "forbidden_identifier@2",
    "forbidden_property@3",
    "unknown_function@4",
    "bad_arity@5",
    "bad_argument@6",
    "forbidden_property@7",
  ]);
});

Deno.test("verifyProgram in check mode takes one expression with query skills", () => {
  assertEquals(
    where('detect("red")[0].on === "bowl" && holding() === null', "check"),
    [],
  );
  assertEquals(
    where(
      'detect("block").every((b) => { const z = b.on; return z !== null; })',
      "check",
    ),
    [],
  );
  assertEquals(where('pick("a")', "check"), ["forbidden_identifier@1:1"]);
  assertStringIncludes(only('pick("a")', "check").message, "only query skills");
  assertEquals(where("1; 2", "check"), ["syntax_error@1:2"]);
  assertEquals(where("holding() === null\n/* done */\n", "check"), []);
  assertEquals(where("", "check"), ["syntax_error@1:1"]);
  assertEquals(where("globalThis", "check"), ["forbidden_identifier@1:1"]);
  assertEquals(where("helper()", "check"), ["unknown_function@1:1"]);
});

Deno.test("verifyProgram reports the first 100 issues in source order and counts the rest", () => {
  const hostile = "x;".repeat(32767);
  const report = verify(hostile);
  assertEquals(report.ok, false);
  assertEquals(report.issues.length, 100);
  assertEquals(report.omitted, 32767 - 100);
  assertEquals(report.issues[0]?.column, 1);
  assertEquals(report.issues[99]?.column, 199);
  assert(JSON.stringify(report).length < 32_768, "the report stays small");
  // At most 100: no omitted field.
  const few = verify("x;".repeat(100));
  assertEquals(few.issues.length, 100);
  assertEquals("omitted" in few, false);
});

Deno.test("verifyProgram ends a source beyond its work bound as too_complex", () => {
  const source = "const a = [1];\n" + "a[0];\n".repeat(200);
  assertEquals(verify(source).ok, true);
  const report = verifyProgram(source, { api: API, maxSteps: 100 });
  assertEquals(report.ok, false);
  assertEquals(report.issues.map((i) => i.code), ["too_complex"]);
  // The same verdict every time: the bound counts steps, not time.
  assertEquals(verifyProgram(source, { api: API, maxSteps: 100 }), report);
  // The key analysis counts against the same bound.
  const keys = 'const o = {};\nlet k = "a";\n' +
    'k = k + "b"; o[k];\n'.repeat(300);
  const bounded = verifyProgram(keys, { api: API, maxSteps: 5_000 });
  assertEquals(bounded.issues.map((i) => i.code), ["too_complex"]);
});

Deno.test("listUnknownFunctions reads the names from the issues, not their messages", () => {
  const report = verify(
    'const bs = detect("block");\nstack_blocks(bs);\nsort_by_size(bs);\nstack_blocks(bs);',
  );
  assertEquals(listUnknownFunctions(report), ["stack_blocks", "sort_by_size"]);
  // Rewording a message does not change the data.
  const reworded = {
    issues: report.issues.map((issue) => issue),
  };
  for (const issue of reworded.issues) issue.message = "reworded";
  assertEquals(listUnknownFunctions(reworded), [
    "stack_blocks",
    "sort_by_size",
  ]);
  assertEquals(listUnknownFunctions(verify("pick(1);")), []);
});

Deno.test("issues are placed as acorn places them, across every kind of line break", () => {
  const lines = [
    "let a = 1;",
    "eval;",
    "a = 2;  Function;",
    "",
    "globalThis.x;",
    "  eval;",
  ];
  for (const join of ["\n", "\r\n", "\r", "\u2028", "\u2029", "\r\n\n"]) {
    const source = lines.join(join);
    const report = verifyProgram(source, { api: { skills: [] } });
    const expected = [...source.matchAll(/eval|Function|globalThis/g)].map(
      (m) => {
        const { line, column } = acorn.getLineInfo(source, m.index);
        return { line, column: column + 1 };
      },
    );
    assertEquals(
      report.issues.map(({ line, column }) => ({ line, column })),
      expected,
      `joined by ${JSON.stringify(join)}`,
    );
  }
});

Deno.test("verifyProgram hands an accepted program's catch sites out, and a refused one's not", () => {
  const source = `function tryPick(id) {
  try { pick(id); return true; } catch (error) { return false; }
}
try { tryPick("a"); } catch { place("b"); }
try { pick("c"); } catch ({ code }) { wait(1); }
const retry = () => { try { pick("d"); } catch (e) { try { pick("e"); } catch (f) {} } };
retry();`;
  const sites: { offset: number; name: string }[] = [];
  const report = verifyProgram(source, { api: API, catchSites: sites });
  assert(report.ok, JSON.stringify(report.issues));
  // Only clauses that bind a plain name; offsets just after their "{".
  assertEquals(sites.map((s) => s.name), ["error", "e", "f"]);
  for (const site of sites) {
    assertEquals(source[site.offset - 1], "{");
    assert(
      /catch \(\w+\) \{$/.test(source.slice(0, site.offset)),
      source.slice(site.offset - 20, site.offset),
    );
  }

  const refused: { offset: number; name: string }[] = [];
  const bad = verifyProgram(
    "try { pick('a'); } catch (e) { globalThis.x = 1; }",
    { api: API, catchSites: refused },
  );
  assert(!bad.ok);
  assertEquals(refused, []);

  const check: { offset: number; name: string }[] = [];
  verifyProgram("holding() === null", {
    api: API,
    mode: "check",
    catchSites: check,
  });
  assertEquals(check, []);
});

Deno.test("an issue names a long identifier briefly, wherever it appears", () => {
  const name = "a".repeat(60_000);
  for (
    const source of [
      `${name}();`,
      `${name}: 1;`,
      `${name} = 1;`,
      `Math.${name};`,
      `${name}.x;`,
      `say(${name});`,
    ]
  ) {
    const report = verifyProgram(source, { api: API });
    assert(!report.ok, source.slice(0, 20));
    for (const issue of report.issues) {
      assert(
        issue.message.length < 400,
        `${issue.code}: ${issue.message.length} characters`,
      );
    }
  }
});
