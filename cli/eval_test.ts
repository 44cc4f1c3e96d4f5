import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { evalCommand } from "./eval.ts";

Deno.test("cap eval --replay --only runs the chosen tasks and prints a JSON report", async () => {
  const log = console.log;
  let stdout = "";
  console.log = (...args: unknown[]) => {
    stdout += args.join(" ") + "\n";
  };
  let code: number;
  try {
    code = await evalCommand([
      "--replay",
      "--only",
      "04_",
      "--only",
      "06_",
      "--json",
    ]);
  } finally {
    console.log = log;
  }
  assertEquals(code, 0);
  const report = JSON.parse(stdout);
  assertEquals(report.replay, true);
  assertEquals(report.passed, 2);
  assertEquals(
    report.tasks.map((t: { failureLabels: string[] }) => t.failureLabels),
    [["postcondition_failed"], ["skill_failed"]],
  );
  assert(report.tasks.every((t: { attempts: number }) => t.attempts === 2));
});

Deno.test("cap eval refuses bad usage with exit code 2", async () => {
  const error = console.error;
  console.error = () => {};
  try {
    assertEquals(await evalCommand(["--max-attempts", "x"]), 2);
    assertEquals(await evalCommand(["--replay", "--only", "no-such-task"]), 2);
    assertEquals(await evalCommand(["stray"]), 2);
  } finally {
    console.error = error;
  }
});
