/**
 * Hostile and broken programs run END TO END through one executor, as a
 * robot would run them one after another: each must end with its expected
 * verifier code or failure label, and the host must stay healthy after it.
 * The static-level twin of this table is `adversarial_verifier_test.ts`.
 * @module
 */
import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { parseScene, SimBackend } from "../skills-bridge/mod.ts";
import {
  type EvidenceRecord,
  type FailureLabel,
} from "../runtime/evidence/mod.ts";
import { Executor } from "../runtime/executor/mod.ts";

const CAPS = {
  timeoutMs: 1000,
  memoryBytes: 8 * 1024 * 1024,
  maxSkillCalls: 50,
};

const SCENE = parseScene({
  seed: 7,
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "blue_block", kind: "block", color: "blue", x: 0, y: -0.5 },
    { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
    { id: "green_bowl", kind: "bowl", color: "green", x: -0.2, y: -0.65 },
  ],
});

type Expected =
  /** Refused before it runs, with this verifier issue code among the issues. */
  | { rejected: string }
  /** Verified, run, and failed with this label. */
  | { label: Exclude<FailureLabel, "verification_rejected"> }
  /** Verified and run to success: the trick was harmless. */
  | { succeeded: true };

interface Case {
  name: string;
  source: string;
  expect: Expected;
  checks?: string[];
  /** A fragment the failure message must hold. */
  message?: string;
}

/** Built at run time so the verifier cannot see the forbidden name. */
const CTOR = 'const k = "constr" + "uctor";\n';
const PROTO = 'const k = "__pro" + "to__";\n';

const CASES: Case[] = [
  // --- Escape attempts ------------------------------------------------------
  {
    name: "constructor chain from a method",
    source: '[].map.constructor("return this")()',
    expect: { rejected: "forbidden_property" },
  },
  {
    name: "constructor chain from a skill",
    source: 'pick.constructor("return globalThis")().Deno.exit(1)',
    expect: { rejected: "forbidden_property" },
  },
  {
    name: "computed constructor key the verifier cannot see",
    source: CTOR + '[].map[k]("return 1")',
    expect: { label: "program_error" },
    message: "not a function",
  },
  {
    name: "computed constructor of a constructor (Function via Array)",
    source: CTOR + 'const F = [][k][k];\nF("return globalThis")().Deno.exit(1)',
    expect: { label: "program_error" },
  },
  {
    name: "computed constructor of a skill",
    source: CTOR + 'const F = pick[k];\nF("return Deno")().exit(1)',
    expect: { label: "program_error" },
  },
  {
    name: "Function via the String constructor",
    source: CTOR + 'const F = ""[k][k];\nF("return 1")',
    expect: { label: "program_error" },
  },
  {
    name: "globalThis by name",
    source: "globalThis.Deno.exit(1)",
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "Deno by name",
    source: 'Deno.readTextFileSync("/etc/passwd")',
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "the global object through a sloppy-mode this",
    source: "function f() { return this; }\nf().Deno.exit(1)",
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "globalThis as a computed key",
    source: 'const g = "glob" + "alThis";\nconst o = {};\no[g].Deno.exit(1)',
    expect: { label: "program_error" },
  },
  {
    name: "arguments.callee",
    source: "function f() { return arguments.callee; }\nf()",
    expect: { rejected: "forbidden_property" },
  },
  {
    name: "polluting Object.prototype to forge a host answer",
    source: PROTO +
      'const p = ({})[k];\np.ok = true;\np.value = null;\npick("ghost")',
    // The sandbox has no __proto__ accessor: the pollution fails first.
    expect: { label: "program_error" },
    message: "undefined",
  },
  {
    name: "a polluted prototype does not survive into the next run",
    source:
      'if (({}).ok !== undefined || ({}).value !== undefined) throw new Error("the last run leaked");\nsay("clean")',
    expect: { succeeded: true },
  },
  {
    name: "Array.prototype.toJSON rewrites the arguments",
    source: PROTO +
      'const p = ([])[k];\np.toJSON = function () { return "red_block"; };\npick("blue_block")',
    // The sandbox has no __proto__ accessor: the pollution fails first.
    expect: { label: "program_error" },
    message: "undefined",
  },
  {
    name: "InternalError from a caught overflow forges out of memory",
    source: CTOR +
      'let IE;\nfunction f() { return f() + 1; }\ntry { f(); } catch (e) { IE = e[k]; }\nthrow new IE("out of memory");',
    // The engine's own error class must stay out of reach: no constructor.
    expect: { label: "program_error" },
  },
  {
    name: "Object.assign onto a skill",
    source: "Object.assign(pick, { x: 1 })",
    expect: { rejected: "forbidden_property" },
  },
  {
    name: "Object.assign onto a builtin",
    source: "Object.assign(Math, { floor: function () { return 0; } })",
    expect: { rejected: "forbidden_property" },
  },
  {
    name: "reflection through a computed constructor cannot unfreeze a skill",
    source: CTOR +
      'const O = ({})[k];\nO.defineProperty(pick, "name", { value: "x" })',
    expect: { label: "program_error" },
  },
  {
    name: "reassigning a skill",
    source: 'pick = function () {};\npick("ghost")',
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "shadowing a skill",
    source: 'function pick(id) {}\npick("ghost")',
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "Proxy as an argument",
    source: "say(new Proxy({}, {}))",
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "Reflect",
    source: "Reflect.ownKeys({})",
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "dynamic import",
    source: 'import("data:text/javascript,Deno.exit(1)")',
    expect: { rejected: "forbidden_syntax" },
  },
  {
    name: "a getter as an argument",
    source: "place({ get x() { return 0.1; }, y: -0.5 })",
    expect: { rejected: "forbidden_syntax" },
  },
  {
    name: "toJSON in a literal argument swaps the point",
    source:
      'pick("red_block");\nplace({ x: 0.1, y: -0.5, toJSON: function () { return { x: 99, y: 99 }; } })',
    expect: { label: "invalid_argument" },
    message: "outside the workspace",
  },
  {
    name: "a function as an argument",
    source: "const f = function () {};\nsay(f)",
    expect: { label: "invalid_argument" },
  },
  {
    name: "an array where a point is expected",
    source: 'const t = [0.1, -0.5];\npick("red_block");\nplace(t)',
    expect: { label: "invalid_argument" },
  },
  {
    name: "a point with an extra key",
    source:
      'const t = { x: 0.1, y: -0.5, z: 0 };\npick("red_block");\nplace(t)',
    expect: { label: "invalid_argument" },
  },
  {
    name: "a cyclic argument",
    source: "const a = { n: 1 };\na.self = a;\nsay(a)",
    expect: { label: "invalid_argument" },
    message: "cyclic",
  },
  {
    name: "a huge argument",
    source:
      "const a = [];\nfor (let i = 0; i < 100000; i++) a.push(i);\ndetect(a)",
    expect: { label: "invalid_argument" },
    message: "over the limit",
  },
  {
    name: "a nested object as an argument",
    source: "let o = {};\nfor (let i = 0; i < 3000; i++) o = { a: o };\nsay(o)",
    expect: { label: "invalid_argument" },
  },
  // --- Exhaustion -----------------------------------------------------------
  {
    name: "tight loop",
    source: "while (true) {}",
    expect: { label: "timeout" },
  },
  {
    name: "loop of empty try/catch",
    source: "while (true) { try {} catch (e) {} }",
    expect: { label: "timeout" },
  },
  {
    name: "catching the timeout interrupt and looping on",
    source:
      "for (;;) { try { while (true) {} } catch (e) { say(String(e)); } }",
    expect: { label: "timeout" },
  },
  {
    name: "looping again in finally",
    source: "try { while (true) {} } finally { while (true) {} }",
    expect: { label: "timeout" },
  },
  {
    name: "string doubling",
    source: 'let s = "x";\nwhile (true) s = s + s;',
    expect: { label: "memory_exceeded" },
  },
  {
    name: "a billion-character repeat",
    source: '"x".repeat(1e9)',
    expect: { label: "memory_exceeded" },
  },
  {
    name: "filling new Array(1e9)",
    source: "const a = new Array(1e9);\na.fill(0)",
    // Array methods loop in C, out of the interrupt handler's reach: bounded.
    expect: { label: "program_error" },
    message: "limit of 100000",
  },
  {
    name: "Array.from({ length: 1e8 })",
    source: "Array.from({ length: 1e8 })",
    expect: { label: "program_error" },
    message: "limit of 100000",
  },
  // Builtins whose C loops the interrupt handler cannot reach: each must be
  // refused up front, or the worker burns a core long after a stop.
  {
    name: "an iterator helper that drops 4e9 holes in C",
    source: "const a = [];\na.length = 4e9;\na.values().drop(4e9).next()",
    expect: { label: "program_error" },
    message: "not a function",
  },
  {
    name: "Iterator.from through a computed constructor",
    source: CTOR + "const I = [].values()[k];\nI.from([1])",
    expect: { label: "program_error" },
  },
  {
    name: "concat of a sparse 4e9-element argument",
    source: "const a = [];\na.length = 4e9;\n[].concat(a)",
    expect: { label: "program_error" },
    message: "limit of 100000",
  },
  {
    name: "flat over a sparse nested array",
    source: "const a = [];\na.length = 4e9;\n[a].flat()",
    expect: { label: "program_error" },
    message: "limit of 100000",
  },
  {
    name: "flatMap returning a sparse array",
    source:
      "const a = [];\na.length = 4e9;\n[1].flatMap(function () { return a; })",
    expect: { label: "program_error" },
    message: "limit of 100000",
  },
  {
    name: "a JSON.stringify replacer of 4e9 holes",
    source: "const r = [];\nr.length = 4e9;\nJSON.stringify({ a: 1 }, r)",
    expect: { label: "program_error" },
    message: "limit of 100000",
  },
  {
    name: "a length whose valueOf answers 0, then 1e10",
    source:
      "let n = 0;\nconst o = { length: { valueOf: function () { n++; return n === 1 ? 0 : 1e10; } } };\n[].indexOf.call(o, 1)",
    expect: { label: "program_error" },
    message: "length must be a number",
  },
  {
    name: "a naive string search of text x pattern characters",
    source: 'const s = "a".repeat(2e6);\ns.indexOf("a".repeat(1e4) + "b")',
    expect: { label: "program_error" },
    message: "limit of 10000000",
  },
  {
    name: "a pattern whose toString answers short, then long",
    source:
      'let n = 0;\nconst p = { toString: function () { n++; return n === 1 ? "b" : "a".repeat(1e4) + "b"; } };\n"a".repeat(2e6).split(p);\nsay(String(n))',
    // Converted once, in the guard: the short pattern is the one searched.
    expect: { succeeded: true },
  },
  {
    name: "Array indexOf of a long string over many elements",
    source:
      'const s = "a".repeat(1e6);\nconst xs = [];\nfor (let i = 0; i < 1e4; i++) xs.push(s);\nxs.indexOf("a".repeat(1e6 - 1) + "b")',
    expect: { label: "program_error" },
    message: "limit of 10000000",
  },
  {
    name: "sorting many long strings",
    source:
      'const s = "a".repeat(1e5);\nconst xs = [];\nfor (let i = 0; i < 1e4; i++) xs.push(i % 2 ? s : s + "b");\nxs.sort()',
    expect: { label: "program_error" },
    message: "limit of 10000000",
  },
  {
    name: "deep recursion",
    source: "function f(n) { return f(n + 1) + 1; }\nf(0)",
    expect: { label: "stack_overflow" },
  },
  {
    name: "mutual recursion",
    source:
      "function a(n) { return b(n + 1) + 1; }\nfunction b(n) { return a(n + 1) + 1; }\na(0)",
    expect: { label: "stack_overflow" },
  },
  {
    name: "recursion inside catch",
    source:
      "function f(n) { try { throw n; } catch (e) { return f(e + 1); } }\nf(0)",
    expect: { label: "stack_overflow" },
  },
  {
    name: "recursion that rethrows the overflow",
    source:
      "function f(n) { try { return f(n + 1); } catch (e) { throw e; } }\nf(0)",
    expect: { label: "stack_overflow" },
  },
  {
    name: "catching a stack overflow is allowed and harmless",
    source:
      'function f(n) { try { return f(n + 1) + 1; } catch (e) { return 0; } }\nf(0);\nsay("survived")',
    expect: { succeeded: true },
  },
  {
    name: "JSON.stringify of a cyclic structure",
    source: "const a = {};\na.self = a;\nJSON.stringify(a)",
    expect: { label: "program_error" },
    message: "circular",
  },
  {
    name: "JSON.stringify of a huge shared structure",
    source:
      "let a = [1];\nfor (let i = 0; i < 40; i++) a = [a, a];\nJSON.stringify(a)",
    expect: { label: "timeout" },
  },
  {
    name: "skill calls past the budget",
    source: 'while (true) say("again")',
    expect: { label: "budget_exceeded" },
  },
  {
    name: "skill calls past the budget with every error caught",
    source: "while (true) { try { holding(); } catch (e) {} }",
    expect: { label: "budget_exceeded" },
  },
  {
    name: "short waits past the budget",
    source: "for (let i = 0; i < 60; i++) wait(0.001);",
    expect: { label: "budget_exceeded" },
  },
  {
    name: "a microtask flood",
    source:
      "function flood() { Promise.resolve().then(flood); }\nflood();\nwhile (true) {}",
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "an async loop",
    source: "async function f() { while (true) await 0; }\nf()",
    expect: { rejected: "forbidden_syntax" },
  },
  {
    name: "timers",
    source: "setTimeout(function () {}, 0)",
    expect: { rejected: "forbidden_identifier" },
  },
  // --- API misuse the verifier cannot see ------------------------------------
  {
    name: "too few arguments through an alias",
    source: "const f = pick;\nf()",
    expect: { label: "invalid_argument" },
    message: "argument",
  },
  {
    name: "too many arguments through an alias",
    source: 'const f = say;\nf("a", "b")',
    expect: { label: "invalid_argument" },
  },
  {
    name: "an argument to a skill that takes none",
    source: "const f = holding;\nf(1)",
    expect: { label: "invalid_argument" },
  },
  {
    name: "a string where seconds are expected",
    source: 'const t = "1";\nwait(t)',
    expect: { label: "invalid_argument" },
  },
  {
    name: "wait(-1) through a variable",
    source: "const t = -1;\nwait(t)",
    expect: { label: "invalid_argument" },
  },
  {
    name: "wait(1e9) through a variable",
    source: "const t = 1e9;\nwait(t)",
    expect: { label: "invalid_argument" },
  },
  {
    name: "a NaN coordinate by computation",
    source: 'const x = 0 / 0;\npick("red_block");\nplace({ x: x, y: -0.5 })',
    expect: { label: "invalid_argument" },
  },
  {
    name: "an Infinity coordinate by computation",
    source: 'const y = -1 / 0;\npick("red_block");\nplace({ x: 0.1, y: y })',
    expect: { label: "invalid_argument" },
  },
  {
    name: "a megabyte string to say",
    source: 'const s = "x".repeat(1 << 20);\nsay(s)',
    expect: { label: "invalid_argument" },
    message: "over the limit",
  },
  {
    name: "a megabyte string to detect",
    source: 'const s = "x".repeat(1 << 20);\ndetect(s)',
    expect: { label: "invalid_argument" },
  },
  {
    name: "a megabyte string to pick",
    source: 'const s = "x".repeat(1 << 20);\npick(s)',
    expect: { label: "invalid_argument" },
  },
  {
    name: "an object where an id is expected",
    source: 'const id = { id: "red_block" };\npick(id)',
    expect: { label: "invalid_argument" },
  },
  {
    name: "a detected object where its id is expected",
    source: 'pick(detect("red block")[0])',
    expect: { label: "invalid_argument" },
  },
  {
    name: "an id that does not exist",
    source: 'pick("red_" + "ghost")',
    expect: { label: "invalid_argument" },
    message: "red_ghost",
  },
  {
    name: "placing the held object on itself",
    source: 'pick("red_block");\nconst t = "red_block";\nplace(t)',
    expect: { label: "invalid_argument" },
  },
  {
    name: "picking twice",
    source: 'const a = "red_block", b = "blue_block";\npick(a);\npick(b)',
    expect: { label: "precondition_violated" },
  },
  {
    name: "placing on a block that already carries one",
    source:
      'pick("red_block");\nplace("blue_block");\npick("green_bowl");\nplace("blue_block")',
    expect: { label: "precondition_violated" },
  },
  {
    name: "a regex-backed string method (no RegExp in the sandbox)",
    source: 'const m = "abc".match("b");',
    expect: { rejected: "forbidden_property" },
  },
  {
    name: "throwing a non-Error",
    source: "throw 42",
    expect: { label: "program_error" },
  },
  // --- Postconditions -------------------------------------------------------
  {
    name: "a check that calls an action skill",
    source: 'say("hi")',
    checks: ['pick("red_block")'],
    expect: { rejected: "forbidden_identifier" },
  },
  {
    name: "a check that throws",
    source: 'say("hi")',
    checks: ["detect()[99].on === null"],
    expect: { label: "postcondition_failed" },
  },
  {
    name: "a check that exhausts memory",
    source: 'say("hi")',
    checks: ["Array.from({ length: 1e8 }).length > 0"],
    expect: { label: "postcondition_failed" },
  },
];

/** Puts down whatever a case left in the gripper, where the scene had it. */
async function putDown(executor: Executor, held: string): Promise<void> {
  const home = SCENE.objects.find((o) => o.id === held);
  assert(home, `unknown held object ${held}`);
  const evidence = await executor.run({
    source: `place({ x: ${home.x}, y: ${home.y} })`,
  });
  assertEquals(evidence.outcome, "succeeded", evidence.failure?.message ?? "");
}

/** Undoes a stack a case built so that the next case starts from the scene. */
async function unstack(executor: Executor, evidence: EvidenceRecord) {
  for (const obj of evidence.worldAfter?.objects ?? []) {
    const home = SCENE.objects.find((o) => o.id === obj.id);
    if (home === undefined || obj.on === null) continue;
    const moved = await executor.run({
      source: `pick("${obj.id}");\nplace({ x: ${home.x}, y: ${home.y} })`,
    });
    assertEquals(moved.outcome, "succeeded", moved.failure?.message ?? "");
  }
}

function check(c: Case, evidence: EvidenceRecord): void {
  const why = `${c.name}: ${evidence.outcome} ${
    evidence.failure?.label ?? ""
  } ${evidence.failure?.message.slice(0, 300) ?? ""}`;
  if ("rejected" in c.expect) {
    const code = c.expect.rejected;
    assertEquals(evidence.outcome, "rejected", why);
    assertEquals(evidence.failure?.label, "verification_rejected", why);
    assert(
      evidence.verifier.issues.some((i) => i.code === code),
      `${c.name}: no ${code} among ${
        JSON.stringify(evidence.verifier.issues.map((i) => i.code))
      }`,
    );
    assertEquals(evidence.calls, []);
    assertEquals(evidence.worldBefore, null);
    return;
  }
  // Everything below got past the verifier: the runtime had to hold.
  assertEquals(evidence.verifier, { ok: true, issues: [] }, why);
  if ("succeeded" in c.expect) {
    assertEquals(evidence.outcome, "succeeded", why);
    return;
  }
  assertEquals(evidence.outcome, "failed", why);
  assertEquals(evidence.failure?.label, c.expect.label, why);
  if (c.message !== undefined) {
    assert(evidence.failure?.message.includes(c.message), why);
  }
  assert(evidence.calls.length <= CAPS.maxSkillCalls, why);
  assertEquals(evidence.resources.skillCalls, evidence.calls.length);
  assertEquals(evidence.resources.timeoutMs, CAPS.timeoutMs);
  assertEquals(evidence.resources.memoryLimitBytes, CAPS.memoryBytes);
}

Deno.test("hostile programs end as expected and the host stays healthy", async (t) => {
  assert(CASES.length >= 45, `only ${CASES.length} cases`);
  await using backend = new SimBackend(SCENE);
  await using executor = await Executor.create({
    backend,
    robotId: "adversarial-arm",
    caps: CAPS,
  });
  for (const c of CASES) {
    await t.step(c.name, async () => {
      const evidence = await executor.run({
        source: c.source,
        checks: c.checks ?? [],
      });
      check(c, evidence);
      // The same executor runs a trivial program right after.
      const next = await executor.run({ source: 'say("ok")' });
      assertEquals(
        next.outcome,
        "succeeded",
        `after ${c.name}: ${next.failure?.message}`,
      );
      assertEquals(next.calls.map((call) => call.args), [["ok"]]);
      const held = next.worldAfter?.holding ?? null;
      if (held !== null) await putDown(executor, held);
      await unstack(executor, next);
    });
  }
});

// --- Known runtime bugs: these fail until runtime/ is fixed -----------------

/** Runs each source on one fresh executor and returns its evidence. */
async function runEach(sources: string[]): Promise<EvidenceRecord[]> {
  await using backend = new SimBackend(SCENE);
  await using executor = await Executor.create({ backend, caps: CAPS });
  const out: EvidenceRecord[] = [];
  for (const source of sources) out.push(await executor.run({ source }));
  return out;
}

Deno.test("a program cannot forge the failure label of an event that did not happen", async () => {
  // runtime/executor/executor.ts #judge trusts the thrown value's name, message and
  // code: a plain Error dressed as a SkillError, an interrupt, an
  // out-of-memory or a stack overflow gets that label, though no skill
  // failed and no cap was hit.
  const forged = [
    'const e = new Error("forged");\ne.name = "SkillError";\ne.code = "blocked";\nthrow e;',
    'const e = new Error("interrupted");\ne.name = "InternalError";\nthrow e;',
    'const e = new Error("out of memory");\ne.name = "InternalError";\nthrow e;',
    'throw new RangeError("Maximum call stack size exceeded")',
  ];
  const labels = (await runEach(forged)).map((e) => e.failure?.label);
  assertEquals(labels, forged.map(() => "program_error"));
});

Deno.test("deeply nested JSON is a stack overflow, not a crashed sandbox", async () => {
  // QuickJS aborts in JS_FreeRuntime ("Assertion failed:
  // list_empty(&rt->gc_obj_list)") after a stack overflow inside
  // JSON.parse / JSON.stringify; the worker reports "fatal" and the run ends
  // program_error "The sandbox failed: Aborted(...)" instead of
  // stack_overflow (and the aborted wasm instance is kept for later runs).
  const [parse, stringify] = await runEach([
    'JSON.parse("[".repeat(100000))',
    "let o = {};\nfor (let i = 0; i < 100000; i++) o = { a: o };\nJSON.stringify(o)",
  ]);
  assertEquals(
    parse?.failure?.label,
    "stack_overflow",
    parse?.failure?.message ?? "",
  );
  // JSON.stringify checks for cycles by a linear scan per level, so 1e5
  // levels may pass the 1 s deadline before they overflow the stack.
  assert(
    ["stack_overflow", "timeout"].includes(stringify?.failure?.label ?? ""),
    stringify?.failure?.message ?? "",
  );
});

Deno.test("the failure message in the evidence stays small", async () => {
  // runtime/sandbox/_worker.ts describeError copies the whole message: a
  // program that throws a megabyte puts a megabyte into the evidence record
  // (and the outbox, and one MQTT message).
  const [evidence] = await runEach(['throw new Error("x".repeat(1 << 20))']);
  assertEquals(evidence?.failure?.label, "program_error");
  assert(
    (evidence?.failure?.message.length ?? 0) <= 4096,
    `failure.message is ${evidence?.failure?.message.length} characters`,
  );
});

Deno.test("an object shaped like the wire's non-finite marker is not a number", async () => {
  // runtime/executor/executor.ts decodeArgs revives any {$nonFinite: s} to Number(s),
  // so a guest object {$nonFinite: "0.1"} passes place's schema as x = 0.1.
  const [evidence] = await runEach([
    'const p = { x: { $nonFinite: "0.1" }, y: -0.5 };\npick("red_block");\nplace(p)',
  ]);
  assertEquals(
    evidence?.failure?.label,
    "invalid_argument",
    `outcome ${evidence?.outcome}, args ${
      JSON.stringify(evidence?.calls[1]?.args)
    }`,
  );
});

Deno.test("call records stay JSON and small, whatever the arguments", async () => {
  // runtime/executor/executor.ts recorded the decoded arguments as is: a NaN read as
  // null once the evidence was JSON, and 1000 failed say() calls of 60 KB
  // each made a 60 MB record, past what the gRPC stream carries.
  const [evidence] = await runEach([
    'const z = 0;\ntry { place({ x: z / z, y: -0.5 }); } catch (e) {}\nfor (let i = 0; i < 40; i++) { try { say("x".repeat(60000)); } catch (e) {} }',
  ]);
  assertEquals(
    evidence?.outcome,
    "succeeded",
    evidence?.failure?.message ?? "",
  );
  assertEquals(evidence?.calls[0]?.args, [{ x: "NaN", y: -0.5 }]);
  assertEquals(evidence?.calls[1]?.args, ["<60004 characters of JSON>"]);
  assert(
    JSON.stringify(evidence).length < 100_000,
    `the evidence is ${JSON.stringify(evidence).length} characters`,
  );
});
