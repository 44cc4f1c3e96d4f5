import { assert, assertEquals, assertStringIncludes } from "../test/_assert.ts";
import { ROOT, runDeno, type RunResult } from "../test/_run_cli.ts";

/** Runs `deno task demo …` from the repository root without any model configured. */
function demoTask(args: string[]): Promise<RunResult> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) =>
      !name.startsWith("OPENAI_") && name !== "CAP_MODEL"
    ),
  );
  return runDeno(["task", "--quiet", "demo", ...args], {
    cwd: ROOT,
    env,
    clearEnv: true,
  });
}

Deno.test("deno task demo closes the loop on a REPLAY: repair, sign, gRPC delivery, a succeeded run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-demo-test-" });
  try {
    const [plain, json] = await Promise.all([
      demoTask(["--state-dir", `${dir}/plain`]),
      demoTask([
        "--state-dir",
        `${dir}/json`,
        "--instruction",
        "put the red block 10 cm left of the blue bowl",
        "--json",
      ]),
    ]);

    // The default instruction: the recording's first program is refused by
    // the verifier, the repaired one runs on the robot.
    assertEquals(plain.code, 0, plain.stdout + plain.stderr);
    const out = plain.stdout;
    assert(out.startsWith("REPLAY: "), out);
    assertStringIncludes(out, "NOT a live model");
    assertStringIncludes(out, "attempt 1: verifier REFUSED it");
    assertStringIncludes(out, "forbidden_identifier");
    assertStringIncludes(out, "attempt 2: verifier ok; dry-run succeeded");
    assertStringIncludes(out, 'provenance: model "replay", 2 attempt(s)');
    assertStringIncludes(
      out,
      'check ✓ detect("red block")[0].on === "blue_bowl"',
    );
    const lines = out.trimEnd().split("\n");
    assert(
      /^RESULT: run [0-9a-f-]+ succeeded$/.test(lines.at(-1) ?? ""),
      out,
    );
    const envelope = JSON.parse(
      await Deno.readTextFile(`${dir}/plain/envelope.json`),
    );
    assertEquals(envelope.payloadType, "application/vnd.cap-edge.program+json");
    const recordPath = out.match(/full record: (\S+\.json)/)?.[1];
    assert(recordPath !== undefined, out);
    const record = JSON.parse(await Deno.readTextFile(recordPath));
    assertEquals(record.outcome, "succeeded");
    assertEquals(record.robotId, "demo-arm");

    // --json: only the evidence on stdout; the dry-run's failed check is repaired.
    assertEquals(json.code, 0, json.stdout + json.stderr);
    const evidence = JSON.parse(json.stdout);
    assertEquals(evidence.outcome, "succeeded");
    assertEquals(evidence.checks.length, 3);
    assert(evidence.checks.every((c: { ok: boolean }) => c.ok));
    assertStringIncludes(json.stderr, "REPLAY");
    assertStringIncludes(
      json.stderr,
      "attempt 1: verifier ok; dry-run failed: postcondition_failed",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task demo refuses bad usage with exit code 2", async () => {
  const { code, stderr } = await demoTask(["--bogus"]);
  assertEquals(code, 2);
  assertStringIncludes(stderr, "Usage: deno task demo");
});
