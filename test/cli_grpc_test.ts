/**
 * The operator's path on the real command line, against an edge node:
 * `cap keygen` → `cap sign` → `cap verify` → `cap send --run` → `cap list`
 * → `cap exec` → `cap stop` / `cap resume`. Each `cap` is a subprocess.
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { type EvidenceRecord } from "../runtime/evidence/mod.ts";
import { clientFor, signed, startNode } from "./_edge_fixture.ts";
import { runCap, type RunResult, showRun as show } from "./_run_cli.ts";

/** `deno task cap args…` in the repository. */
function cap(...args: string[]): Promise<RunResult> {
  return runCap(args);
}

Deno.test("cap keygen → sign → verify → send --run → list → exec → stop → resume against a robot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-cli-grpc-" });
  try {
    const keys = `${dir}/keys`;
    const keygen = await cap("keygen", "--out", keys, "--key-id", "ops-1");
    assertEquals(keygen.code, 0, show(keygen));

    const program = `${dir}/put_red.js`;
    await Deno.writeTextFile(
      program,
      'pick("red_block");\nplace("blue_bowl");\n',
    );
    const envelope = `${dir}/env.json`;
    const check = 'detect("red block")[0].on === "blue_bowl"';
    const sign = await cap(
      "sign",
      program,
      "--key",
      `${keys}/private.jwk.json`,
      "--out",
      envelope,
      "--program-id",
      "put-red",
      "--version",
      "3",
      "--check",
      check,
    );
    assertEquals(sign.code, 0, show(sign));
    assertStringIncludes(sign.stdout, '"put-red" v3');

    const verify = await cap(
      "verify",
      envelope,
      "--trust",
      `${keys}/trust.json`,
    );
    assertEquals(verify.code, 0, show(verify));

    const key = {
      keyId: "ops-1",
      privateJwk: JSON.parse(
        await Deno.readTextFile(`${keys}/private.jwk.json`),
      ),
      trustPath: `${keys}/trust.json`,
      dir,
    };
    await using node = await startNode(key, {
      // The robot's default caps: `cap sign` asks for them as budgets.
      config: { trustStore: `${keys}/trust.json`, caps: {} },
    });
    const to = `127.0.0.1:${node.grpc.port}`;

    // `cap keygen` keys sign programs and operator commands by default.
    const operatorKey = ["--operator-key", `${keys}/private.jwk.json`];
    const send = await cap(
      "send",
      envelope,
      "--to",
      to,
      "--run",
      ...operatorKey,
      "--json",
    );
    assertEquals(send.code, 0, show(send));
    const evidence: EvidenceRecord = JSON.parse(send.stdout);
    assertEquals(evidence.outcome, "succeeded", show(send));
    assertEquals(evidence.robotId, "arm-01");
    assertEquals(evidence.program.programId, "put-red");
    assertEquals(evidence.program.version, 3);
    assertEquals(evidence.program.keyId, "ops-1");
    assertEquals(evidence.checks, [{ expr: check, ok: true }]);

    const list = await cap("list", "--to", to, "--json");
    assertEquals(list.code, 0, show(list));
    assertEquals(
      JSON.parse(list.stdout).map((
        p: { programId: string; version: number },
      ) => [
        p.programId,
        p.version,
      ]),
      [["put-red", 3]],
    );

    const exec = await cap(
      "exec",
      "put-red",
      "--to",
      to,
      ...operatorKey,
      "--json",
    );
    assertEquals(exec.code, 0, show(exec));
    assertEquals(JSON.parse(exec.stdout).program.version, 3);

    // A program that spins, run from here; `cap stop` halts it.
    using client = clientFor(to, key, "arm-01");
    const { receipt } = await client.deliver(
      await signed(key, {
        programId: "spin",
        source: 'say("go");\nwhile (true) {}',
      }),
    );
    assertEquals(receipt.accepted, true, receipt.message);
    const { promise: spinning, resolve } = Promise.withResolvers<void>();
    const run = client.run("spin", {
      onEvent: (event) => {
        if (event.type === "skill_ended") resolve();
      },
    });
    await spinning;
    const stop = await cap("stop", "--to", to, "--reason", "from the CLI");
    assertEquals(stop.code, 0, show(stop));
    const stopped = await run;
    assertStringIncludes(stop.stdout, `stopped run ${stopped.runId}`);
    assertEquals(stopped.outcome, "stopped");
    assertEquals(stopped.failure?.label, "estop");
    assertEquals(node.service.state, "stopped");

    // Releasing the stop needs the operator's signed command.
    const unsigned = await cap("resume", "--to", to);
    assertEquals(unsigned.code, 1, show(unsigned));
    assertEquals(node.service.state, "stopped");
    const resume = await cap("resume", "--to", to, ...operatorKey);
    assertEquals(resume.code, 0, show(resume));
    assertStringIncludes(resume.stdout, "resumed");
    assertEquals(node.service.state, "online");
    const after = await client.run("put-red");
    assert(after.outcome !== "stopped", JSON.stringify(after.failure));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
