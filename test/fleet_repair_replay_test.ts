import { deepEqual, equal, ok } from "node:assert/strict";
import { main } from "../cli/cap.ts";
import { replayRun } from "../cli/replay_run.ts";
import { fetchRunRecord } from "../fleet/mod.ts";
import { startFakeOpenAiServer } from "./_fake_openai_server.ts";
import { startFleetBench, waitFor } from "./_fleet_fixture.ts";

const BAD = 'pick("red_block");\npick("blue_bowl");';
const FIXED = 'pick("red_block");\nplace("blue_bowl");';
// The repair the scripted model writes: it also copes with the robot still
// holding the block after the failed run (the field world moved on).
const REPAIRED =
  'if (holding() === null) pick("red_block");\nplace("blue_bowl");';

/** Runs the CLI in this process with `env` set, capturing stdout lines. */
async function cap(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string }> {
  const saved = Object.keys(env).map((k) => [k, Deno.env.get(k)] as const);
  const out: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = () => {};
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  try {
    const code = await main(args, new AbortController().signal);
    return { code, stdout: out.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
    for (const [k, v] of saved) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

Deno.test("repair and replay from a run recorded by the fleet console", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cap-fleet-repair-" });
  try {
    await using bench = await startFleetBench();
    const fleet = await bench.startConsole(`${dir}/fleet.db`);
    const failed = await bench.run("arm-02", "grab", BAD);
    equal(failed.failure?.label, "precondition_violated");
    await waitFor("the failed run at the console", async () => {
      const res = await fetch(`${fleet.url}/api/runs/${failed.runId}`);
      await res.body?.cancel();
      return res.ok ? true : undefined;
    });

    await t.step("replay reproduces the recorded run", async () => {
      const record = await fetchRunRecord(fleet.url, failed.runId);
      const result = await replayRun(record);
      equal(result.reproduced, true, result.message);
      equal(result.divergence, null);
      equal(result.evidence.failure?.label, "precondition_violated");
      equal(result.evidence.failure?.line, 2);
      const cli = await cap(["replay", failed.runId, "--console", fleet.url]);
      equal(cli.code, 0);
      ok(cli.stdout.startsWith("Reproduced run"));
    });

    await t.step(
      "replay reports the first call that differs when the program changes",
      async () => {
        const record = await fetchRunRecord(fleet.url, failed.runId);
        const result = await replayRun(record, { source: FIXED });
        equal(result.reproduced, false);
        deepEqual(result.divergence, {
          seq: 2,
          expected: { skill: "pick", args: ["blue_bowl"] },
          actual: { skill: "place", args: ["blue_bowl"] },
        });
        const program = `${dir}/changed.js`;
        await Deno.writeTextFile(program, FIXED);
        const cli = await cap([
          "replay",
          failed.runId,
          "--console",
          fleet.url,
          "--program",
          program,
          "--json",
        ]);
        equal(cli.code, 1);
        equal(JSON.parse(cli.stdout).divergence.seq, 2);
      },
    );

    await t.step(
      "synth --from-run repairs the failure into a new signed version that runs",
      async () => {
        await using model = startFakeOpenAiServer([
          { content: "```js\n" + REPAIRED + "\n```" },
        ]);
        const keyPath = `${dir}/key.jwk.json`;
        await Deno.writeTextFile(keyPath, JSON.stringify(bench.key.privateJwk));
        const robot = bench.robots["arm-02"];
        const cli = await cap([
          "synth",
          "--from-run",
          failed.runId,
          "--console",
          fleet.url,
          "--key",
          keyPath,
          "--key-id",
          bench.key.keyId,
          "--to",
          robot.grpc.address,
          "--run",
          "--operator-key",
          keyPath,
          "--json",
        ], {
          OPENAI_BASE_URL: model.baseURL,
          OPENAI_API_KEY: "test",
          CAP_MODEL: "fake",
        });
        const report = JSON.parse(cli.stdout);
        equal(cli.code, 0, cli.stdout);
        equal(report.source, REPAIRED);
        const [delivery] = report.deliveries;
        equal(delivery.ok, true, delivery.message);
        equal(delivery.evidence.outcome, "succeeded");
        ok(delivery.evidence.program.version > 1);
        equal(delivery.evidence.program.programId, "grab");
        // The model saw the field failure as its first feedback.
        const first = model.requests[0]!.messages;
        const feedback = first.map((m) => m.content).join("\n");
        ok(feedback.includes("precondition_violated"));
        ok(feedback.includes(failed.runId));
        ok(
          first.some((m) => m.role === "assistant" && m.content.includes(BAD)),
        );
        // And the console stores the repaired run.
        await waitFor("the repaired run at the console", async () => {
          const runs = await (await fetch(
            `${fleet.url}/api/runs?robot=arm-02&outcome=succeeded`,
          )).json();
          return runs.length === 1 ? true : undefined;
        });
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
