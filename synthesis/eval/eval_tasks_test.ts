import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { verifyProgram } from "../../verifier/mod.ts";
import { TABLETOP_API } from "../../skills-bridge/mod.ts";
import { DryRunner } from "../dry_runner.ts";
import { extractCode } from "../extract_code.ts";
import { loadReplayAnswers, replayKey } from "../replay_server.ts";
import { loadEvalTasks } from "./load_eval_tasks.ts";

const tasks = await loadEvalTasks();

Deno.test("the eval suite has at least 12 tasks across the categories", () => {
  assert(tasks.length >= 12, `only ${tasks.length} tasks`);
  const categories = new Set(tasks.map((t) => t.category));
  for (const c of ["long_horizon", "spatial", "faults"]) {
    assert(categories.has(c), `no ${c} task`);
  }
  assert(tasks.some((t) => t.scene.faults.graspFailureRate > 0));
  assertEquals(new Set(tasks.map((t) => t.id)).size, tasks.length);
});

Deno.test("every eval task's postconditions are valid checks over the query skills", () => {
  for (const task of tasks) {
    for (const check of task.checks) {
      const report = verifyProgram(check, { api: TABLETOP_API, mode: "check" });
      assert(
        report.ok,
        `${task.id}: ${check}: ${JSON.stringify(report.issues)}`,
      );
    }
  }
});

Deno.test("every eval task's reference program passes its dry-run", async () => {
  await using runner = await DryRunner.create();
  for (const task of tasks) {
    const evidence = await runner.run(task.reference, {
      scene: task.scene,
      instruction: task.instruction,
      checks: task.checks,
    });
    assert(
      evidence.outcome === "succeeded",
      `${task.id}: ${evidence.outcome} ${JSON.stringify(evidence.failure)} ${
        JSON.stringify(evidence.checks)
      }`,
    );
    assertEquals(evidence.checks.length, task.checks.length);
  }
});

Deno.test("the checks of the eval tasks fail on the untouched scene", async () => {
  await using runner = await DryRunner.create();
  for (const task of tasks) {
    const evidence = await runner.run('say("nothing");', {
      scene: task.scene,
      checks: task.checks,
    });
    assertEquals(
      evidence.failure?.label,
      "postcondition_failed",
      `${task.id}: the checks already hold before any action`,
    );
  }
});

Deno.test("the replay recordings end with each eval task's reference program", async () => {
  const answers = await loadReplayAnswers();
  for (const task of tasks) {
    const list = answers[replayKey(task.instruction)];
    assert(list !== undefined, `${task.id}: no recording`);
    assertEquals(
      extractCode(list[list.length - 1] ?? "").trim(),
      task.reference.trim(),
    );
  }
});
