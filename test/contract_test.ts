/**
 * Contract conformance, black-box: what DESIGN.md's contract sections promise,
 * checked from outside the way an external test would — `cap run`/`cap verify`
 * as subprocesses, the service started with the design's example config, a
 * real Mosquitto, DSSE envelopes built by hand from the design text, gRPC
 * through `EdgeClient`. The schemas below are written from the design text,
 * not from the project's own types.
 * @module
 */
import { z } from "zod";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
import { runCap, type RunResult, showRun } from "./_run_cli.ts";
import { freePort, startMosquitto } from "./_mosquitto.ts";
import { connectProbe, type ProbeMessage } from "./_mqtt_probe.ts";
import { _spawnService } from "../deploy/_service_process.ts";
import { EdgeClient } from "../runtime/grpc/mod.ts";
import { startEdgeNode } from "../runtime/mod.ts";
import { parseServiceConfig } from "../runtime/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;

// ---------------------------------------------------------------- schemas

const LABELS = [
  "envelope_rejected",
  "verification_rejected",
  "invalid_argument",
  "precondition_violated",
  "skill_failed",
  "timeout",
  "memory_exceeded",
  "stack_overflow",
  "budget_exceeded",
  "estop",
  "program_error",
  "postcondition_failed",
] as const;

const Issue = z.strictObject({
  code: z.string().min(1),
  message: z.string().min(1),
  line: z.number(),
  column: z.number(),
});
/** DESIGN.md "Verifier report". */
const Report = z.strictObject({ ok: z.boolean(), issues: z.array(Issue) });
const Obj = z.strictObject({
  id: z.string(),
  kind: z.string(),
  color: z.string(),
  x: z.number(),
  y: z.number(),
  z: z.number(),
  on: z.string().nullable(),
});
const World = z.strictObject({
  objects: z.array(Obj),
  holding: z.string().nullable(),
}).nullable();
const Iso = z.iso.datetime({ offset: true });
/** DESIGN.md "Evidence record", field by field. */
const Evidence = z.strictObject({
  runId: z.string().min(1),
  robotId: z.string().min(1),
  startedAt: Iso,
  endedAt: Iso,
  program: z.strictObject({
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    source: z.string(),
    instruction: z.string().nullable(),
    programId: z.string().nullable(),
    version: z.number().nullable(),
    keyId: z.string().nullable(),
  }),
  verifier: Report,
  worldBefore: World,
  worldAfter: World,
  calls: z.array(z.strictObject({
    seq: z.number().int(),
    skill: z.string(),
    args: z.array(z.unknown()),
    ok: z.boolean(),
    result: z.unknown().optional(),
    error: z.strictObject({ code: z.string(), message: z.string() })
      .optional(),
    startMs: z.number(),
    durationMs: z.number(),
  })),
  checks: z.array(z.strictObject({
    expr: z.string(),
    ok: z.boolean(),
    message: z.string().optional(),
  })),
  outcome: z.enum(["succeeded", "failed", "rejected", "stopped"]),
  failure: z.strictObject({
    label: z.enum(LABELS),
    message: z.string(),
    line: z.number().int().optional(),
  }).nullable(),
  resources: z.strictObject({
    wallMs: z.number(),
    skillCalls: z.number().int(),
    memoryLimitBytes: z.number().int(),
    timeoutMs: z.number().int(),
  }),
});
type Evidence = z.output<typeof Evidence>;

function parseEvidence(text: string, what: string): Evidence {
  const parsed = Evidence.safeParse(JSON.parse(text));
  assert(
    parsed.success,
    `${what}: not an evidence record per DESIGN.md: ${
      parsed.success ? "" : JSON.stringify(parsed.error.issues)
    }\n${text}`,
  );
  return parsed.data!;
}

// ---------------------------------------------------------------- helpers

const DIR = await Deno.makeTempDir({ prefix: "cap-contract-" });
let fileNo = 0;

async function file(text: string, ext = "js"): Promise<string> {
  const path = `${DIR}/f${fileNo++}.${ext}`;
  await Deno.writeTextFile(path, text);
  return path;
}

async function scene(value: unknown): Promise<string> {
  return await file(JSON.stringify(value), "json");
}

/** `cap run <source> --json …`: stdout must be exactly one evidence record. */
async function capRun(
  source: string,
  flags: string[] = [],
): Promise<{ run: RunResult; evidence: Evidence }> {
  const run = await runCap(["run", await file(source), "--json", ...flags]);
  const evidence = parseEvidence(run.stdout, `cap run\n${showRun(run)}`);
  assertEquals(
    run.code,
    evidence.outcome === "succeeded" ? 0 : 1,
    `exit code vs outcome\n${showRun(run)}`,
  );
  return { run, evidence };
}

const RED = { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 };
const BLUE_BOWL = {
  id: "blue_bowl",
  kind: "bowl",
  color: "blue",
  x: -0.1,
  y: -0.4,
};
const GREEN = {
  id: "green_block",
  kind: "block",
  color: "green",
  x: 0,
  y: -0.6,
};

// ---------------------------------------------------------------- toolchain

Deno.test("contract: deno.json tasks, lock file, CI entry; the service task is never -A and runs only deno", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  for (const task of ["start", "test", "ok", "bench", "demo", "cap"]) {
    assert(typeof config.tasks?.[task] === "string", `task ${task}`);
  }
  for (const option of ["strict", "noUncheckedIndexedAccess"]) {
    assertEquals(config.compilerOptions?.[option], true, option);
  }
  const start = config.tasks.start as string;
  for (const broad of [" -A", "--allow-all"]) {
    assert(!start.includes(broad), `start task has ${broad}: ${start}`);
  }
  // The core may run exactly the Deno binary (its helper processes).
  for (
    const flag of start.split(/\s+/).filter((f) => f.startsWith("--allow-run"))
  ) {
    assertEquals(flag, "--allow-run=deno", `start task: ${start}`);
  }
  assert(/--allow-net=\S/.test(start), `start names its hosts: ${start}`);
  assert((await Deno.stat(`${ROOT}deno.lock`)).isFile, "deno.lock");
  assert((await Deno.stat(`${ROOT}.ci/run`)).isFile, ".ci/run");
});

// ---------------------------------------------------------------- cap run

Deno.test("contract: cap run --json prints one strict evidence record; every documented field", async () => {
  const source = 'say("hi");\npick("red_block");\nplace("blue_bowl");\n';
  const { evidence } = await capRun(source, [
    "--instruction",
    "put it in the bowl",
    "--check",
    'detect("red block")[0].on === "blue_bowl"',
  ]);
  assertEquals(evidence.outcome, "succeeded");
  assertEquals(evidence.failure, null);
  assertEquals(evidence.program.source, source);
  assertEquals(evidence.program.instruction, "put it in the bowl");
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(source)),
  );
  assertEquals(
    evidence.program.sha256,
    [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
  );
  assertEquals(evidence.calls.map((c) => [c.seq, c.skill, c.ok]), [
    [1, "say", true],
    [2, "pick", true],
    [3, "place", true],
  ]);
  assertEquals(evidence.checks.map((c) => c.ok), [true]);
  assertEquals(evidence.resources.skillCalls, 3);
  assert(evidence.worldBefore !== null && evidence.worldAfter !== null);
  assertEquals(evidence.worldAfter!.holding, null);
});

Deno.test("contract: every failure label a local run can reach, through cap run", async () => {
  const bowlScene = await scene({ objects: [RED, BLUE_BOWL] });
  const slippery = await scene({
    objects: [RED, BLUE_BOWL],
    faults: { graspFailureRate: 1 },
  });
  const stacked = await scene({
    objects: [RED, { ...GREEN, on: "red_block" }],
  });
  const cases: [
    string,
    string,
    string[],
    Evidence["outcome"],
    string | null,
    string | null,
  ][] = [
    ["eval", 'eval("1");', [], "rejected", "verification_rejected", null],
    [
      "unknown id",
      'pick("nope");',
      [],
      "failed",
      "invalid_argument",
      "unknown_object",
    ],
    [
      "place on the held object",
      'pick("red_block");\nplace("red_block");',
      [],
      "failed",
      "invalid_argument",
      "invalid_target",
    ],
    [
      "off the table",
      'pick("red_block");\nplace({ x: 5, y: 5 });',
      [],
      "failed",
      "invalid_argument",
      "out_of_workspace",
    ],
    [
      "schema broken at run time",
      'wait(JSON.parse("0"));',
      [],
      "failed",
      "invalid_argument",
      "invalid_argument",
    ],
    [
      "not holding",
      'place("blue_bowl");',
      [],
      "failed",
      "precondition_violated",
      "not_holding",
    ],
    [
      "gripper full",
      'pick("red_block");\npick("blue_bowl");',
      ["--world", bowlScene],
      "failed",
      "precondition_violated",
      "gripper_full",
    ],
    [
      "blocked",
      'pick("red_block");',
      ["--world", stacked],
      "failed",
      "precondition_violated",
      "blocked",
    ],
    [
      "grasp slips",
      'pick("red_block");',
      ["--world", slippery],
      "failed",
      "skill_failed",
      "grasp_failed",
    ],
    [
      "spin",
      "while (true) {}",
      ["--timeout-ms", "500"],
      "failed",
      "timeout",
      null,
    ],
    [
      "memory",
      'const a = [];\nwhile (true) a.push("x".repeat(1000) + a.length);',
      ["--memory-mb", "8", "--timeout-ms", "20000"],
      "failed",
      "memory_exceeded",
      null,
    ],
    [
      "recursion",
      "function f(n) { return f(n + 1) + 1; }\nf(0);",
      [],
      "failed",
      "stack_overflow",
      null,
    ],
    [
      "budget",
      "for (let i = 0; i < 10; i++) holding();",
      ["--max-calls", "3"],
      "failed",
      "budget_exceeded",
      null,
    ],
    ["throw", 'throw new Error("boom");', [], "failed", "program_error", null],
    [
      "check false",
      'say("done");',
      ["--check", 'holding() === "red_block"'],
      "failed",
      "postcondition_failed",
      null,
    ],
  ];
  const results = await Promise.all(
    cases.map(([, source, flags]) => capRun(source, flags)),
  );
  for (const [i, [what, , , outcome, label, code]] of cases.entries()) {
    const { evidence } = results[i]!;
    const shown = `${what}: ${JSON.stringify(evidence.failure)}`;
    assertEquals(evidence.outcome, outcome, shown);
    assertEquals(evidence.failure?.label ?? null, label, shown);
    if (code !== null) {
      const failed = evidence.calls.find((c) => !c.ok);
      assertEquals(failed?.error?.code, code, `${what}: the failed call`);
    }
  }
  // The verifier's refusal is in the record too.
  assertEquals(results[0]!.evidence.verifier.ok, false);
  assertEquals(results[0]!.evidence.calls, []);
  // The check that failed is recorded as false.
  assertEquals(results.at(-1)!.evidence.checks.map((c) => c.ok), [false]);
});

Deno.test("contract: cap run exits 2 on bad usage and bad scenes, naming the problem", async () => {
  const ok = await file('say("x");');
  const badSeed = await scene({ seed: -1, objects: [RED] });
  const badKind = await scene({ objects: [{ ...RED, kind: "cube" }] });
  const notJson = await file("{", "json");
  const cases: [string[], string | null][] = [
    [["run"], null],
    [["run", ok, ok], null],
    [["run", ok, "--bogus"], "bogus"],
    [["run", ok, "--timeout-ms", "soon"], "timeout-ms"],
    [["run", `${DIR}/missing.js`], "missing.js"],
    [["run", ok, "--world", badSeed], "seed"],
    [["run", ok, "--world", badKind], "objects[0].kind"],
    [["run", ok, "--world", notJson], notJson],
  ];
  const runs = await Promise.all(cases.map(([args]) => runCap(args)));
  for (const [i, [args, named]] of cases.entries()) {
    const run = runs[i]!;
    assertEquals(run.code, 2, `${args.join(" ")}\n${showRun(run)}`);
    if (named !== null) assertStringIncludes(run.stderr, named);
    assertEquals(run.stdout, "", "usage errors go to stderr");
  }
});

// ---------------------------------------------------------------- cap verify

Deno.test("contract: cap verify --json prints the report with every issue; exit 0/1/2", async () => {
  const good = await runCap([
    "verify",
    await file('pick("red_block");\nplace("blue_bowl");'),
    "--json",
  ]);
  assertEquals(good.code, 0, showRun(good));
  assertEquals(Report.parse(JSON.parse(good.stdout)), { ok: true, issues: [] });

  const bad = await runCap([
    "verify",
    await file(
      [
        "with (Math) {}",
        "async function a() {}",
        "function* g() {}",
        "class C {}",
        "debugger;",
        "outer: for (;;) break outer;",
        "globalThis.x = 1;",
        "Function('1');",
        "const r = Reflect;",
        "const d = Date;",
        "({}).__proto__;",
        "({}).constructor;",
        "frobnicate();",
        "pick();",
        "wait(100);",
        "const o = { get v() { return 1; } };",
        "Math.random();",
      ].join("\n"),
    ),
    "--json",
  ]);
  assertEquals(bad.code, 1, showRun(bad));
  // `import` is a syntax error in a script, or forbidden syntax: either is refused.
  const report = Report.parse(JSON.parse(bad.stdout));
  assertEquals(report.ok, false);
  const codes = new Set(report.issues.map((i) => i.code));
  if (!codes.has("syntax_error")) {
    for (
      const code of [
        "forbidden_syntax",
        "forbidden_identifier",
        "forbidden_property",
        "unknown_function",
        "bad_arity",
        "bad_argument",
      ]
    ) assert(codes.has(code), `missing ${code}: ${bad.stdout}`);
    assert(report.issues.length >= 12, `every issue: ${bad.stdout}`);
  }

  const syntax = await runCap(["verify", await file("pick(("), "--json"]);
  assertEquals(syntax.code, 1);
  const syntaxReport = Report.parse(JSON.parse(syntax.stdout));
  assertEquals(syntaxReport.issues[0]?.code, "syntax_error");
  assertEquals(syntaxReport.issues[0]?.line, 1);

  const large = await runCap([
    "verify",
    await file(`say("${"x".repeat(300_000)}");`),
    "--json",
  ]);
  assertEquals(large.code, 1);
  assert(
    Report.parse(JSON.parse(large.stdout)).issues.some((i) =>
      i.code === "too_large"
    ),
    large.stdout,
  );
});

Deno.test("contract: each forbidden construct alone is refused with its documented code", async () => {
  const cases: [string, string][] = [
    ["with (Math) {}", "forbidden_syntax"],
    ["async function a() {}", "forbidden_syntax"],
    ["function* g() {}", "forbidden_syntax"],
    ["class C {}", "forbidden_syntax"],
    ["debugger;", "forbidden_syntax"],
    ["a: for (;;) break a;", "forbidden_syntax"],
    ["const o = { set v(x) {} };", "forbidden_syntax"],
    ["globalThis;", "forbidden_identifier"],
    ["this;", "forbidden_identifier"],
    ["Proxy;", "forbidden_identifier"],
    ["Symbol;", "forbidden_identifier"],
    ["WebAssembly;", "forbidden_identifier"],
    ["eval;", "forbidden_identifier"],
    ["({}).prototype;", "forbidden_property"],
    // One computed-key rule: a key that can spell a forbidden name, or that
    // the verifier cannot prove safe, is refused however it is written.
    ["const k = 'constr'; ({})[k + 'uctor'];", "forbidden_property"],
    ["function f(k) { return ({})[k]; }", "forbidden_property"],
    ["pick(1);", "bad_argument"],
    ["holding(1);", "bad_arity"],
  ];
  const runs = await Promise.all(
    cases.map(async ([source]) =>
      await runCap(["verify", await file(source), "--json"])
    ),
  );
  for (const [i, [source, code]] of cases.entries()) {
    const run = runs[i]!;
    assertEquals(run.code, 1, `${source}\n${showRun(run)}`);
    const report = Report.parse(JSON.parse(run.stdout));
    assert(
      report.issues.some((issue) => issue.code === code),
      `${source}: expected ${code}, got ${run.stdout}`,
    );
  }
});

Deno.test("contract: cap verify exits 2 on bad usage", async () => {
  const ok = await file('say("x");');
  const envelope = await file(
    JSON.stringify({
      payloadType: "application/vnd.cap-edge.program+json",
      payload: "e30=",
      signatures: [{ keyid: "k", sig: "AA==" }],
    }),
    "json",
  );
  const cases = [
    ["verify"],
    ["verify", ok, ok],
    ["verify", ok, "--bogus"],
    ["verify", `${DIR}/missing.js`],
    ["verify", envelope],
    ["verify", envelope, "--trust", `${DIR}/missing.json`],
  ];
  const runs = await Promise.all(cases.map((args) => runCap(args)));
  for (const [i, args] of cases.entries()) {
    assertEquals(runs[i]!.code, 2, `${args.join(" ")}\n${showRun(runs[i]!)}`);
    assertEquals(runs[i]!.stdout, "", "usage errors go to stderr");
  }
});

// ---------------------------------------------------------------- simulator

Deno.test("contract: scene defaults, stacked starts and the simulator's rules", async () => {
  // No workspace, faults or seed: the defaults hold.
  const minimal = await scene({
    objects: [
      RED,
      { ...GREEN, on: "red_block" },
      BLUE_BOWL,
      { id: "y", kind: "block", color: "Yellow", x: 0.2, y: -0.3 },
    ],
  });
  const { evidence } = await capRun(
    [
      "const ws = workspace();",
      "say(JSON.stringify(ws));",
      'const g = detect("green")[0];',
      'say(g.on + " " + g.z);',
      'try { pick("red_block"); } catch (e) { say(e.name + " " + e.code); }',
      'pick("green_block");',
      'try { place("green_block"); } catch (e) { say(e.name + " " + e.code); }',
      'place("y");',
      'pick("red_block");',
      'place("green_block");',
      'say(String(detect("RED BLOCK")[0].z));',
      'say(detect("yellow").length + " " + detect("block red").length + " " + detect("bowl red").length);',
      'pick("red_block");',
      'place("blue_bowl");',
    ].join("\n"),
    ["--world", minimal],
  );
  const said = evidence.calls.filter((c) => c.skill === "say").map((c) =>
    c.args[0]
  );
  assertEquals(evidence.outcome, "succeeded", JSON.stringify(evidence.failure));
  assertEquals(JSON.parse(String(said[0])), {
    xMin: -0.3,
    xMax: 0.3,
    yMin: -0.8,
    yMax: -0.2,
  });
  const blockHeight = Number(String(said[1]).split(" ")[1]);
  assertEquals(String(said[1]).split(" ")[0], "red_block");
  assert(blockHeight > 0, `a stacked block is above the table: ${said[1]}`);
  assertEquals(said[2], "SkillError blocked");
  assertEquals(said[3], "SkillError invalid_target");
  // green on y (z = h), red on green (z = 2h): z rises by a block's height.
  assertEquals(Number(said[4]), Math.round(2 * blockHeight * 1e6) / 1e6);
  // Case-insensitive, every word, any order; "bowl red" matches nothing.
  assertEquals(said[5], "1 1 0");
  // The top block goes in the bowl (containment: `on` is the bowl).
  assert(evidence.worldAfter !== null);
  const after = new Map(evidence.worldAfter!.objects.map((o) => [o.id, o]));
  assertEquals(after.get("red_block")?.on, "blue_bowl");
  assertEquals(after.get("red_block")?.x, BLUE_BOWL.x);
  assertEquals(after.get("red_block")?.y, BLUE_BOWL.y);
  assertEquals(after.get("green_block")?.on, "y");
  // The stacked start is in worldBefore.
  const before = new Map(evidence.worldBefore!.objects.map((o) => [o.id, o]));
  assertEquals(before.get("green_block")?.on, "red_block");
  assertEquals(before.get("green_block")?.x, RED.x);
});

Deno.test("contract: grasp failures and detection misses come from the scene's seed", async () => {
  const program = [
    "let log = '';",
    "for (let i = 0; i < 12; i++) {",
    "  try { pick('red_block'); log += '1'; place('red_block' === holding() ? { x: 0, y: -0.5 } : { x: 0, y: -0.5 }); }",
    "  catch (e) { if (e.code !== 'grasp_failed') throw e; log += '0'; }",
    "}",
    "say(log);",
    "let seen = '';",
    "for (let i = 0; i < 12; i++) seen += detect('blue').length;",
    "say(seen);",
  ].join("\n");
  const world = (seed: number) =>
    scene({
      seed,
      objects: [RED, BLUE_BOWL],
      faults: { graspFailureRate: 0.5, detectionMissRate: 0.5 },
    });
  const [a, b, c] = await Promise.all(
    [await world(11), await world(11), await world(12)].map((w) =>
      capRun(program, ["--world", w])
    ),
  );
  const said = (e: Evidence) =>
    e.calls.filter((call) => call.skill === "say").map((call) => call.args[0]);
  assertEquals(a!.evidence.outcome, "succeeded");
  assertEquals(said(a!.evidence), said(b!.evidence), "same seed, same run");
  const [grasps, detections] = said(a!.evidence) as [string, string];
  assert(
    /0/.test(grasps) && /1/.test(grasps),
    `rate 0.5 slips some: ${grasps}`,
  );
  assert(
    /0/.test(detections) && /1/.test(detections),
    `rate 0.5 misses some: ${detections}`,
  );
  assert(
    JSON.stringify(said(a!.evidence)) !== JSON.stringify(said(c!.evidence)),
    "another seed, another run",
  );
  // A missed object stays where it was.
  const miss = await capRun("say(String(detect().length));", [
    "--world",
    await scene({ objects: [RED], faults: { detectionMissRate: 1 } }),
  ]);
  assertEquals(
    miss.evidence.calls.find((c) => c.skill === "say")?.args,
    ["0"],
  );
});

// ---------------------------------------------------------------- envelopes

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** DSSE PAE(type, body) per the DSSE spec. */
function pae(type: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder();
  const t = enc.encode(type);
  const head = enc.encode(`DSSEv1 ${t.length} `);
  const mid = enc.encode(` ${body.length} `);
  const out = new Uint8Array(head.length + t.length + mid.length + body.length);
  out.set(head, 0);
  out.set(t, head.length);
  out.set(mid, head.length + t.length);
  out.set(body, head.length + t.length + mid.length);
  return out;
}

interface HandKey {
  keyId: string;
  privateKey: CryptoKey;
  trustPath: string;
}

async function handKey(keyId: string): Promise<HandKey> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const trustPath = `${DIR}/trust-${keyId}.json`;
  await Deno.writeTextFile(
    trustPath,
    JSON.stringify({
      keys: [{
        keyId,
        publicKeyJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x },
        // Signs programs and operator commands (DESIGN.md "Operator commands").
        roles: ["program-signer", "operator"],
        revoked: false,
      }],
    }),
  );
  return { keyId, privateKey: pair.privateKey, trustPath };
}

/** A manifest exactly as DESIGN.md lists it. */
function handManifest(overrides: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    programId: "contract",
    version: 1,
    source: 'pick("red_block");\nplace("blue_bowl");',
    instruction: "put the red block in the blue bowl",
    apiVersion: "tabletop/1",
    robots: ["*"],
    issuedAt: new Date(now - 60_000).toISOString(),
    expiresAt: new Date(now + 3600_000).toISOString(),
    budgets: {
      timeoutMs: 20_000,
      memoryBytes: 16 * 1024 * 1024,
      maxSkillCalls: 50,
    },
    checks: [],
    provenance: { model: "hand", attempts: 1 },
    ...overrides,
  };
}

async function handEnvelope(
  key: HandKey,
  overrides: Record<string, unknown> = {},
): Promise<string> {
  const type = "application/vnd.cap-edge.program+json";
  const body = new TextEncoder().encode(
    JSON.stringify(handManifest(overrides)),
  );
  const sig = new Uint8Array(
    await crypto.subtle.sign("Ed25519", key.privateKey, pae(type, body)),
  );
  return JSON.stringify({
    payloadType: type,
    payload: encodeBase64(body),
    signatures: [{ keyid: key.keyId, sig: encodeBase64(sig) }],
  });
}

/** An operator command exactly as DESIGN.md "Operator commands" lists it, signed by hand. */
async function handCommand(
  key: HandKey,
  command: { command: "run" | "resume"; programId?: string; version?: number },
  robot = "arm-01",
): Promise<Uint8Array> {
  const type = "application/vnd.cap-edge.command+json";
  const now = Date.now();
  const body = new TextEncoder().encode(JSON.stringify({
    ...command,
    robot,
    issuedAt: new Date(now - 1000).toISOString(),
    expiresAt: new Date(now + 120_000).toISOString(),
    nonce: encodeBase64(crypto.getRandomValues(new Uint8Array(18)))
      .replaceAll("+", "-").replaceAll("/", "_"),
  }));
  const sig = new Uint8Array(
    await crypto.subtle.sign("Ed25519", key.privateKey, pae(type, body)),
  );
  return new TextEncoder().encode(JSON.stringify({
    payloadType: type,
    payload: encodeBase64(body),
    signatures: [{ keyid: key.keyId, sig: encodeBase64(sig) }],
  }));
}

/** The program id a program envelope's manifest names, or "unknown". */
function programIdOf(envelope: string): string {
  try {
    const body = JSON.parse(envelope).payload as string;
    const manifest = JSON.parse(
      new TextDecoder().decode(
        Uint8Array.from(atob(body), (c) => c.charCodeAt(0)),
      ),
    );
    return typeof manifest.programId === "string"
      ? manifest.programId
      : "unknown";
  } catch {
    return "unknown";
  }
}

Deno.test("contract: hand-made DSSE envelopes and the trust/expiry/replay/target/budget rules", async () => {
  const key = await handKey("hand");
  const stranger = await handKey("stranger");
  await using node = await startEdgeNode(
    parseServiceConfig({
      robotId: "arm-01",
      stateDir: `${DIR}/node-state`,
      grpc: { listen: "127.0.0.1:0" },
      trustStore: key.trustPath,
      backend: { kind: "sim" },
      caps: { timeoutMs: 30_000, memoryBytes: 33554432, maxSkillCalls: 1000 },
    }),
  );
  using client = new EdgeClient(node.grpc.address);
  const deliver = async (envelope: string) =>
    await client.deliver(envelope, {
      run: true,
      command: await handCommand(key, {
        command: "run",
        programId: programIdOf(envelope),
      }),
    });

  const first = await handEnvelope(key, { version: 3 });
  const ran = await deliver(first);
  assert(ran.evidence !== null, "a delivered run has evidence");
  const evidence = Evidence.parse(ran.evidence);
  assertEquals(evidence.outcome, "succeeded", JSON.stringify(evidence.failure));
  assertEquals(evidence.robotId, "arm-01");
  assertEquals(evidence.program.programId, "contract");
  assertEquals(evidence.program.version, 3);
  assertEquals(evidence.program.keyId, "hand");
  // Budgets only lower the robot's caps.
  assertEquals(evidence.resources.timeoutMs, 20_000);
  assertEquals(evidence.resources.memoryLimitBytes, 16 * 1024 * 1024);
  const raised = Evidence.parse(
    (await deliver(
      await handEnvelope(key, {
        programId: "greedy",
        budgets: {
          timeoutMs: 999_999,
          memoryBytes: 1 << 30,
          maxSkillCalls: 1e6,
        },
      }),
    )).evidence,
  );
  assert(raised.resources.timeoutMs <= 30_000, "timeout never raised");
  assert(raised.resources.memoryLimitBytes <= 33554432, "memory never raised");

  // A byte-identical re-delivery is idempotent, not a replay.
  const again = Evidence.parse((await deliver(first)).evidence);
  assertEquals(again.failure, null, JSON.stringify(again.failure));

  const refused: [string, string][] = [
    [
      "same version, other bytes",
      await handEnvelope(key, { version: 3, instruction: "x" }),
    ],
    ["lower version", await handEnvelope(key, { version: 2 })],
    ["unknown key", await handEnvelope(stranger)],
    [
      "expired",
      await handEnvelope(key, {
        programId: "old",
        issuedAt: new Date(Date.now() - 7200_000).toISOString(),
        expiresAt: new Date(Date.now() - 3600_000).toISOString(),
      }),
    ],
    [
      "not yet valid",
      await handEnvelope(key, {
        programId: "future",
        issuedAt: new Date(Date.now() + 3600_000).toISOString(),
        expiresAt: new Date(Date.now() + 7200_000).toISOString(),
      }),
    ],
    [
      "other robot",
      await handEnvelope(key, { programId: "elsewhere", robots: ["arm-02"] }),
    ],
    [
      "tampered",
      (() => {
        const e = JSON.parse(first);
        e.payload = encodeBase64(
          new TextEncoder().encode(
            JSON.stringify(
              handManifest({ version: 9, source: 'say("evil");' }),
            ),
          ),
        );
        return JSON.stringify(e);
      })(),
    ],
  ];
  for (const [what, envelope] of refused) {
    const answer = await deliver(envelope);
    assert(!answer.receipt.accepted, `${what}: refused`);
    // Evidence is written for every run, rejected ones too.
    const record = Evidence.parse(answer.evidence);
    assertEquals(record.outcome, "rejected", what);
    assertEquals(record.failure?.label, "envelope_rejected", what);
  }
  const refusedSource = Evidence.parse(
    (await deliver(
      await handEnvelope(key, { programId: "bad", source: "eval('1');" }),
    ))
      .evidence,
  );
  assertEquals(refusedSource.outcome, "rejected");
  assertEquals(refusedSource.failure?.label, "verification_rejected");

  // estop: a spinning run ends stopped/estop; runs are refused until Resume.
  const spin = await handEnvelope(key, {
    programId: "spin",
    source: "while (true) {}",
  });
  await client.deliver(spin);
  const started = Promise.withResolvers<void>();
  const running = client.run("spin", {
    command: await handCommand(key, { command: "run", programId: "spin" }),
    onEvent: () => started.resolve(),
  });
  await started.promise;
  await client.stop("contract test");
  const stopped = Evidence.parse(await running);
  assertEquals(stopped.outcome, "stopped");
  assertEquals(stopped.failure?.label, "estop");
  const stoppedRun = await handCommand(key, {
    command: "run",
    programId: "spin",
  });
  await assertRejects(() => client.run("spin", { command: stoppedRun }), Error);
  // Without a command nothing runs or resumes; Stop never needs one.
  await assertRejects(() => client.resume(), Error);
  await client.resume({
    command: await handCommand(key, { command: "resume" }),
  });
});

// ---------------------------------------------------------------- service + MQTT

Deno.test("contract: the design's example config starts the service; MQTT status, evidence, last will", async () => {
  await using broker = await startMosquitto();
  const key = await handKey("svc");
  const port = freePort();
  const world = await scene({ seed: 7, objects: [RED, BLUE_BOWL] });
  // DESIGN.md "Service configuration", paths and ports replaced.
  const config = await file(
    JSON.stringify({
      robotId: "arm-01",
      stateDir: `${DIR}/svc-state`,
      grpc: { listen: `127.0.0.1:${port}` },
      trustStore: key.trustPath,
      backend: { kind: "sim", world },
      mqtt: { url: broker.url, topicPrefix: "cap/v1" },
      caps: { timeoutMs: 60000, memoryBytes: 67108864, maxSkillCalls: 1000 },
    }),
    "json",
  );
  const base = "cap/v1/robots/arm-01/";
  await using probe = await connectProbe(broker.url, {
    subscribe: [`${base}#`],
  });
  const qos = new Map<ProbeMessage["topic"], number[]>();
  probe.client.on("message", (topic, _payload, packet) => {
    qos.set(topic, [...(qos.get(topic) ?? []), packet.qos]);
  });

  const start = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks
    .start.split(/\s+/) as string[];
  const script = start.pop()!;
  await using service = _spawnService(
    [Deno.execPath(), ...start.slice(1), script, "--config", config],
    { env: { ...Deno.env.toObject(), NO_COLOR: "1" }, cwd: ROOT },
  );
  await service.waitForLine(
    new RegExp(`serving gRPC on 127\\.0\\.0\\.1:${port}`),
  );
  const statuses = () =>
    probe.messages.filter((m) => m.topic === `${base}status`).map((m) =>
      m.text
    );
  await probe.waitFor(() => statuses().includes("online"), "status online");

  using client = new EdgeClient(`127.0.0.1:${port}`);
  assertEquals(await client.health(), "SERVING");
  const answer = await client.deliver(await handEnvelope(key), {
    run: true,
    command: await handCommand(key, { command: "run", programId: "contract" }),
  });
  const local = Evidence.parse(answer.evidence);
  assertEquals(local.outcome, "succeeded", JSON.stringify(local.failure));
  const evidenceTopic = `${base}evidence`;
  await probe.waitFor(
    (ms) => ms.some((m) => m.topic === evidenceTopic),
    "evidence over MQTT",
  );
  const published = probe.messages.filter((m) => m.topic === evidenceTopic);
  assertEquals(published.length, 1, "one record per message, one per run");
  const record = parseEvidence(published[0]!.text, "MQTT evidence payload");
  assertEquals(record.runId, local.runId);
  assertEquals(qos.get(evidenceTopic), [1], "evidence is QoS 1");
  assert(
    probe.messages.some((m) =>
      m.topic.startsWith(`${base}runs/${local.runId}/events`)
    ),
    `run events on runs/<runId>/events: ${
      [...new Set(probe.messages.map((m) => m.topic))].join(", ")
    }`,
  );
  assert(statuses().includes("running"), `statuses: ${statuses()}`);
  for (const status of statuses()) {
    assert(
      ["online", "running", "stopped", "offline"].includes(status),
      `documented status values only: ${status}`,
    );
  }

  await probe.waitFor(
    (ms) => ms.some((m) => m.topic === `${base}telemetry`),
    "a heartbeat on telemetry",
  );

  // The status is retained: a late subscriber sees the current one.
  await using late = await connectProbe(broker.url, {
    subscribe: [`${base}status`],
  });
  await late.waitFor((ms) => ms.some((m) => m.retain), "a retained status");
  assertEquals(late.messages.find((m) => m.retain)?.text, "online");

  // kill -9: the broker publishes the last will, offline.
  await service.stop("SIGKILL");
  await probe.waitFor(
    () => statuses().at(-1) === "offline",
    "the last will: offline",
  );
});

// ---------------------------------------------------------------- cleanup

Deno.test("contract: cleanup", async () => {
  await Deno.remove(DIR, { recursive: true });
});
