import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { z } from "zod";
import {
  type VerifierApi,
  type VerifierIssue,
  verifyProgram,
} from "./verify_program.ts";

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
    "const a = [1];\nconst o = { k: 0 };\nlet i = 0;\na[i]; a[i + 1]; a[o.k]; a[i++]; a[i ? 0 : 1];",
    'const a = {};\na["x"]; a[`y`];',
    "const k = 1;\n({ [k]: 1, [k + 1]: 2 });",
  ];
  for (const source of ok) assertEquals(where(source), [], source);
  const bad: Array<[string, string]> = [
    ['const a = {};\na["constr" + "uctor"];', "forbidden_property@2:3"],
    ["const a = {}, k = 1;\na[`${k}`];", "forbidden_property@2:3"],
    ["const a = {};\na[String(1)];", "forbidden_property@2:3"],
    ['const a = {}, k = 1;\na[k + "x"];', "forbidden_property@2:3"],
    ['const a = {}, k = 1;\na[(k, "x")];', "forbidden_property@2:4"],
    ['const k = 1;\n({ ["a" + k]: 1 });', "forbidden_property@2:5"],
  ];
  for (const [source, expected] of bad) {
    assertEquals(where(source), [expected], source);
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
