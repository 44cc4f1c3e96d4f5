/**
 * The CLI contract of `cap verify` and `cap run` (DESIGN.md "CLI"), checked
 * on the real command line: `cli/cap.ts` in a subprocess, its exit code,
 * stdout and stderr.
 * @module
 */
import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import {
  generateSigningKey,
  type Manifest,
  signManifest,
} from "../verifier/mod.ts";
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import {
  ROOT,
  runCap,
  type RunResult,
  showRun as show,
} from "../test/_run_cli.ts";

/** `deno task cap args…` in the repository. */
function cap(...args: string[]): Promise<RunResult> {
  return runCap(args);
}

/** A temp dir with the named files written into it. */
async function files(contents: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "cap_cli_test_" });
  for (const [name, text] of Object.entries(contents)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

const GOOD = 'pick("red_block");\nplace("blue_bowl");\nsay("done");\n';
const REFUSED = "globalThis.Deno.exit(0);\neval('1');\n";
const LOOP = "while (true) {}\n";
const DOUBLING = 'let s = "x";\nwhile (true) s = s + s;\n';
const CALLS = 'while (true) say("again");\n';
const GHOST = 'pick("ghost");\n';

const EVIDENCE_KEYS = [
  "calls",
  "checks",
  "endedAt",
  "failure",
  "outcome",
  "program",
  "resources",
  "robotId",
  "runId",
  "startedAt",
  "verifier",
  "worldAfter",
  "worldBefore",
];

/** Parses stdout as exactly one evidence record and checks every contract field. */
function evidenceOf(result: RunResult): EvidenceRecord {
  let evidence: EvidenceRecord;
  try {
    evidence = JSON.parse(result.stdout);
  } catch (error) {
    throw new Error(
      `stdout is not one JSON value (${(error as Error).message})\n${
        show(result)
      }`,
    );
  }
  assertEquals(Object.keys(evidence).sort(), EVIDENCE_KEYS);
  assertEquals(typeof evidence.runId, "string");
  assertEquals(typeof evidence.robotId, "string");
  for (const at of [evidence.startedAt, evidence.endedAt]) {
    assert(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(at),
      `not ISO 8601: ${at}`,
    );
  }
  assertEquals(Object.keys(evidence.program).sort(), [
    "instruction",
    "keyId",
    "programId",
    "sha256",
    "source",
    "version",
  ]);
  assert(/^[0-9a-f]{64}$/.test(evidence.program.sha256));
  assertEquals(Object.keys(evidence.verifier).sort(), ["issues", "ok"]);
  assert(["succeeded", "failed", "rejected", "stopped"].includes(
    evidence.outcome,
  ));
  assertEquals(Object.keys(evidence.resources).sort(), [
    "memoryLimitBytes",
    "skillCalls",
    "timeoutMs",
    "wallMs",
  ]);
  for (const call of evidence.calls) {
    for (const key of ["seq", "skill", "args", "ok", "startMs", "durationMs"]) {
      assert(key in call, `call ${JSON.stringify(call)} has no ${key}`);
    }
  }
  for (const check of evidence.checks) {
    assertEquals(typeof check.expr, "string");
    assertEquals(typeof check.ok, "boolean");
  }
  if (evidence.failure !== null) {
    assertEquals(typeof evidence.failure.label, "string");
    assertEquals(typeof evidence.failure.message, "string");
  }
  return evidence;
}

Deno.test("cap: --help exits 0, no command or an unknown one exits 2", async () => {
  const [help, none, unknown] = await Promise.all([
    cap("--help"),
    cap(),
    cap("frobnicate"),
  ]);
  assertEquals(help.code, 0, show(help));
  assert(help.stdout.includes("verify") && help.stdout.includes("run"));
  assertEquals(none.code, 2, show(none));
  assertEquals(none.stdout, "", show(none));
  assert(none.stderr.includes("Usage"), show(none));
  assertEquals(unknown.code, 2, show(unknown));
  assert(unknown.stderr.includes('"frobnicate"'), show(unknown));
});

Deno.test("cap verify: exit 0 accepted, 1 refused, 2 bad usage; --json prints the report only", async () => {
  const dir = await files({ "good.js": GOOD, "bad.js": REFUSED });
  try {
    const [ok, okJson, refused, refusedJson, missing, noArgs, badFlag] =
      await Promise.all([
        cap("verify", `${dir}/good.js`),
        cap("verify", `${dir}/good.js`, "--json"),
        cap("verify", `${dir}/bad.js`),
        cap("verify", "--json", `${dir}/bad.js`),
        cap("verify", `${dir}/missing.js`),
        cap("verify"),
        cap("verify", `${dir}/good.js`, "--bogus"),
      ]);
    assertEquals(ok.code, 0, show(ok));
    assert(ok.stdout.includes("accepted"), show(ok));

    assertEquals(okJson.code, 0, show(okJson));
    assertEquals(JSON.parse(okJson.stdout), { ok: true, issues: [] });

    assertEquals(refused.code, 1, show(refused));
    assert(refused.stderr.includes("forbidden_identifier"), show(refused));

    assertEquals(refusedJson.code, 1, show(refusedJson));
    const report = JSON.parse(refusedJson.stdout);
    assertEquals(Object.keys(report).sort(), ["issues", "ok"]);
    assertEquals(report.ok, false);
    assert(report.issues.length >= 2, "every issue, not only the first");
    for (const issue of report.issues) {
      assertEquals(Object.keys(issue).sort(), [
        "code",
        "column",
        "line",
        "message",
      ]);
    }
    assertEquals(report.issues[0].code, "forbidden_identifier");
    assertEquals([report.issues[0].line, report.issues[0].column], [1, 1]);

    assertEquals(missing.code, 2, show(missing));
    assert(missing.stderr.includes("missing.js"), show(missing));
    assertEquals(noArgs.code, 2, show(noArgs));
    assert(noArgs.stderr.includes("expects one file"), show(noArgs));
    assertEquals(badFlag.code, 2, show(badFlag));
    assert(badFlag.stderr.includes("bogus"), show(badFlag));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function manifest(patch: Partial<Manifest> = {}): Manifest {
  const now = Date.now();
  return {
    programId: "cli-test",
    version: 1,
    source: GOOD,
    instruction: "put the red block in the blue bowl",
    apiVersion: "tabletop/1",
    robots: ["arm-07"],
    issuedAt: new Date(now - 60_000).toISOString(),
    expiresAt: new Date(now + 3_600_000).toISOString(),
    budgets: { timeoutMs: 10_000, memoryBytes: 16_777_216, maxSkillCalls: 10 },
    checks: [],
    provenance: { model: "human", attempts: 1 },
    ...patch,
  };
}

Deno.test("cap verify: a signed envelope against a trust store", async () => {
  const { privateJwk, trustStore } = await generateSigningKey("cli-key");
  const envelope = await signManifest(manifest(), privateJwk);
  // The signature stays, the payload changes: the program now says more.
  const tampered = {
    ...envelope,
    payload: btoa(JSON.stringify(manifest({ source: GOOD + 'say("x");' }))),
  };
  const unsafe = await signManifest(manifest({ source: REFUSED }), privateJwk);
  const dir = await files({
    "env.json": JSON.stringify(envelope),
    "tampered.json": JSON.stringify(tampered),
    "unsafe.json": JSON.stringify(unsafe),
    "trust.json": JSON.stringify(trustStore),
  });
  try {
    const [ok, other, bad, refused, noTrust] = await Promise.all([
      cap("verify", `${dir}/env.json`, "--trust", `${dir}/trust.json`),
      cap(
        "verify",
        `${dir}/env.json`,
        "--trust",
        `${dir}/trust.json`,
        "--robot",
        "arm-99",
        "--json",
      ),
      cap("verify", `${dir}/tampered.json`, "--trust", `${dir}/trust.json`),
      cap(
        "verify",
        `${dir}/unsafe.json`,
        "--trust",
        `${dir}/trust.json`,
        "--json",
      ),
      cap("verify", `${dir}/env.json`),
    ]);
    // Without --robot any target is accepted (the manifest names "arm-07").
    assertEquals(ok.code, 0, show(ok));
    assert(ok.stdout.includes('"cli-key"'), show(ok));

    assertEquals(other.code, 1, show(other));
    const wrongRobot = JSON.parse(other.stdout);
    assertEquals(wrongRobot.ok, false);
    assertEquals(wrongRobot.issues[0].code, "wrong_robot");

    assertEquals(bad.code, 1, show(bad));
    assert(bad.stderr.includes("bad_signature"), show(bad));

    // A validly signed program is still re-verified.
    assertEquals(refused.code, 1, show(refused));
    assertEquals(JSON.parse(refused.stdout).ok, false);

    assertEquals(noTrust.code, 2, show(noTrust));
    assert(noTrust.stderr.includes("--trust"), show(noTrust));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap run --json prints one evidence record and exits 0 on success", async () => {
  const dir = await files({ "good.js": GOOD });
  try {
    const result = await cap(
      "run",
      `${dir}/good.js`,
      "--json",
      "--instruction",
      "put the red block in the blue bowl",
      "--check",
      'detect("red block")[0].on === "blue_bowl"',
      "--check",
      "holding() === null",
    );
    assertEquals(result.code, 0, show(result));
    const evidence = evidenceOf(result);
    assertEquals(evidence.outcome, "succeeded");
    assertEquals(evidence.failure, null);
    assertEquals(evidence.program.source, GOOD);
    assertEquals(
      evidence.program.instruction,
      "put the red block in the blue bowl",
    );
    assertEquals(
      [evidence.program.programId, evidence.program.version],
      [null, null],
    );
    assertEquals(evidence.program.keyId, null);
    assertEquals(evidence.verifier, { ok: true, issues: [] });
    assertEquals(evidence.calls.map((c) => [c.seq, c.skill, c.args, c.ok]), [
      [1, "pick", ["red_block"], true],
      [2, "place", ["blue_bowl"], true],
      [3, "say", ["done"], true],
    ]);
    assertEquals(evidence.checks, [
      { expr: 'detect("red block")[0].on === "blue_bowl"', ok: true },
      { expr: "holding() === null", ok: true },
    ]);
    assertEquals(
      evidence.worldBefore?.objects.find((o) => o.id === "red_block")?.on,
      null,
    );
    assertEquals(
      evidence.worldAfter?.objects.find((o) => o.id === "red_block")?.on,
      "blue_bowl",
    );
    assertEquals(evidence.resources.skillCalls, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap run: failures exit 1 with their label; caps come from the flags", async () => {
  const dir = await files({
    "ghost.js": GHOST,
    "loop.js": LOOP,
    "doubling.js": DOUBLING,
    "calls.js": CALLS,
    "good.js": GOOD,
  });
  try {
    const [ghost, check, timeout, memory, budget] = await Promise.all([
      cap("run", `${dir}/ghost.js`),
      cap("run", `${dir}/good.js`, "--json", "--check", "holding() !== null"),
      cap("run", `${dir}/loop.js`, "--json", "--timeout-ms", "200"),
      cap("run", `${dir}/doubling.js`, "--json", "--memory-mb", "4"),
      cap("run", `${dir}/calls.js`, "--json", "--max-calls", "3"),
    ]);
    assertEquals(ghost.code, 1, show(ghost));
    assert(ghost.stdout.includes("invalid_argument"), show(ghost));

    assertEquals(check.code, 1, show(check));
    assertEquals(evidenceOf(check).failure?.label, "postcondition_failed");

    assertEquals(timeout.code, 1, show(timeout));
    const late = evidenceOf(timeout);
    assertEquals(late.failure?.label, "timeout");
    assertEquals(late.resources.timeoutMs, 200);

    assertEquals(memory.code, 1, show(memory));
    const big = evidenceOf(memory);
    assertEquals(big.failure?.label, "memory_exceeded");
    assertEquals(big.resources.memoryLimitBytes, 4 * 1024 * 1024);

    assertEquals(budget.code, 1, show(budget));
    const busy = evidenceOf(budget);
    assertEquals(busy.failure?.label, "budget_exceeded");
    assertEquals(busy.resources.skillCalls, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap run: bad usage and bad scenes exit 2 naming the problem", async () => {
  const dir = await files({
    "good.js": GOOD,
    "refused.js": REFUSED,
    "malformed.json": '{ "objects": [ }',
    "bad_field.json": JSON.stringify({
      objects: [{ id: "red_block", kind: "block", color: "red", x: "a", y: 0 }],
    }),
    "tabletop.json": await Deno.readTextFile(
      new URL("examples/tabletop.json", ROOT),
    ),
  });
  try {
    const [help, malformed, badField, badInt, refused, world] = await Promise
      .all([
        cap("run", "--help"),
        cap("run", `${dir}/good.js`, "--world", `${dir}/malformed.json`),
        cap("run", `${dir}/good.js`, "--world", `${dir}/bad_field.json`),
        cap("run", `${dir}/good.js`, "--memory-mb", "lots"),
        cap("run", `${dir}/refused.js`, "--json"),
        cap(
          "run",
          `${dir}/good.js`,
          "--json",
          "--world",
          `${dir}/tabletop.json`,
          "--check",
          'detect("red block")[0].on === "blue_bowl"',
        ),
      ]);
    assertEquals(help.code, 0, show(help));
    assert(help.stdout.includes("--max-calls"), show(help));

    assertEquals(malformed.code, 2, show(malformed));
    assert(malformed.stderr.includes("malformed.json"), show(malformed));

    assertEquals(badField.code, 2, show(badField));
    assert(badField.stderr.includes("objects[0].x"), show(badField));

    assertEquals(badInt.code, 2, show(badInt));
    assert(badInt.stderr.includes("--memory-mb"), show(badInt));

    // A program the verifier refuses is a run outcome, not bad usage.
    assertEquals(refused.code, 1, show(refused));
    const rejected = evidenceOf(refused);
    assertEquals(rejected.outcome, "rejected");
    assertEquals(rejected.failure?.label, "verification_rejected");
    assertEquals(rejected.worldBefore, null);

    assertEquals(world.code, 0, show(world));
    assertEquals(evidenceOf(world).worldBefore?.objects.length, 6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
