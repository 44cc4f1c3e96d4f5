import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { DryRunner } from "../dry_runner.ts";
import { openModelClient } from "../open_model_client.ts";
import { loadEvalTasks } from "./load_eval_tasks.ts";
import { runEval } from "./run_eval.ts";

Deno.test("runEval() passes the whole suite against the replay server, repairing the recorded wrong-first answers", async () => {
  const tasks = await loadEvalTasks();
  await using connection = await openModelClient({ replay: true });
  await using dryRunner = await DryRunner.create();
  const seen: string[] = [];
  const report = await runEval(tasks, {
    client: connection.client,
    dryRunner,
    onTask: (r) => seen.push(r.id),
  });
  assert(connection.replay);
  assertEquals(report.model, "replay");
  assertEquals(seen, tasks.map((t) => t.id));
  assertEquals(report.total, tasks.length);
  assertEquals(
    report.tasks.filter((t) => !t.ok).map((t) => `${t.id}: ${t.error}`),
    [],
  );
  assertEquals(report.passed, tasks.length);
  const byId = new Map(report.tasks.map((t) => [t.id.slice(0, 2), t]));
  assertEquals(byId.get("01")?.failureLabels, ["verification_rejected"]);
  assertEquals(byId.get("02")?.helpers, 1);
  assertEquals(byId.get("04")?.failureLabels, ["postcondition_failed"]);
  assertEquals(byId.get("06")?.failureLabels, ["skill_failed"]);
  assertEquals(report.attempts, tasks.length + 3);
});

Deno.test("runEval() fails a task, not the suite, when the model errs", async () => {
  const tasks = await loadEvalTasks(undefined, { only: ["03_"] });
  await using connection = await openModelClient({ replay: true, answers: {} });
  const report = await runEval(tasks, {
    client: connection.client,
    maxAttempts: 1,
  });
  assertEquals(report.passed, 0);
  assertEquals(report.tasks[0]?.failureLabels, ["model_error"]);
  assert(report.tasks[0]?.error?.includes("replay server, not a model"));
});
