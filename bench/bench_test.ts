import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import type { BenchModule } from "./_bench_module.ts";
import { collectReport } from "./_collect_report.ts";
import { renderTable } from "./_render_table.ts";
import { summarize } from "./_summarize.ts";
import { runDeno, type RunResult } from "../test/_run_cli.ts";

Deno.test("summarize takes nearest-rank medians and p99s", () => {
  const samples = Array.from({ length: 200 }, (_, i) => 200 - i);
  assertEquals(summarize(samples), {
    n: 200,
    min: 1,
    median: 100,
    p99: 198,
    max: 200,
    mean: 100.5,
  });
  assertEquals(summarize([7]).p99, 7);
});

const CORE: BenchModule = {
  name: "core",
  run: () => Promise.resolve({}),
  rows: [
    {
      label: "admission",
      unit: "ms",
      median: "admissionP50Ms",
      p99: "admissionP99Ms",
      target: { figure: "admissionP99Ms", op: "<=", limit: 5 },
    },
    {
      label: "stop: tightLoop",
      unit: "ms",
      p99: "stopP99Ms.tightLoop",
      target: { figure: "stopP99Ms.tightLoop", op: "<=", limit: 10 },
    },
    {
      label: "throughput",
      unit: "/s",
      value: "throughputPerS",
      target: { figure: "throughputPerS", op: ">=", limit: 500 },
    },
  ],
};
const EVIDENCE: BenchModule = {
  name: "evidence",
  run: () => Promise.resolve({}),
};

Deno.test("collectReport flattens the figures and checks every target", () => {
  const report = collectReport([
    {
      module: CORE,
      figures: {
        admissionP50Ms: 1,
        admissionP99Ms: 6,
        stopP99Ms: { tightLoop: 2 },
        throughputPerS: 900,
      },
    },
    { module: EVIDENCE, figures: { evidencePerS: 1000, throughputPerS: 3 } },
  ]);
  assertEquals(report.figures, {
    admissionP50Ms: 1,
    admissionP99Ms: 6,
    stopP99Ms: { tightLoop: 2 },
    throughputPerS: 900,
    evidencePerS: 1000,
    evidenceThroughputPerS: 3,
  });
  assertEquals(
    Object.values(report.targets).map((t) => [t.figure, t.value, t.pass]),
    [
      ["admissionP99Ms", 6, false],
      ["stopP99Ms.tightLoop", 2, true],
      ["throughputPerS", 900, true],
    ],
  );
});

Deno.test("collectReport fails a target whose figure is missing", () => {
  const report = collectReport([{ module: CORE, figures: {} }]);
  assertEquals(report.targets["admissionP99Ms"]?.value, null);
  assertEquals(report.targets["admissionP99Ms"]?.pass, false);
});

Deno.test("renderTable shows medians, p99s, targets and marks", () => {
  const results = [
    {
      module: CORE,
      figures: {
        admissionP50Ms: 1.5,
        admissionP99Ms: 6,
        stopP99Ms: { tightLoop: 2 },
        throughputPerS: 900.5,
      },
    },
    { module: EVIDENCE, figures: { evidencePerS: 1000, nested: { a: 2 } } },
  ];
  const lines = renderTable(results, collectReport(results).targets)
    .split("\n").map((line) => line.replace(/ +/g, " "));
  assertEquals(lines, [
    "core median p99 target",
    " admission 1.500 ms 6 ms p99 ≤ 5 ms ✗ FAIL",
    " stop: tightLoop 2 ms p99 ≤ 10 ms ✓ pass",
    " throughput 900.5 /s ≥ 500 /s ✓ pass",
    "",
    "evidence median p99 target",
    " evidencePerS 1000",
    " nested.a 2",
  ]);
});

function bench(...args: string[]): Promise<RunResult> {
  return runDeno([
    "run",
    "--unstable-worker-options",
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env",
    "--allow-run",
    "--allow-sys",
    new URL("./bench.ts", import.meta.url).pathname,
    ...args,
  ]);
}

Deno.test("bench --json prints one JSON object with the core figures", async () => {
  const { code, stdout, stderr } = await bench(
    "--json",
    "--quick",
    "--only",
    "core",
  );
  assertEquals(code, 0, stderr);
  const report = JSON.parse(stdout);
  for (
    const key of [
      "admissionP50Ms",
      "admissionP99Ms",
      "overshootP99Ms",
      "throughputPerS",
      "peerRatio",
    ]
  ) {
    assert(typeof report[key] === "number" && report[key] >= 0, key);
  }
  for (
    const name of ["tightLoop", "memoryThrash", "inSkill", "deepRecursion"]
  ) {
    assert(typeof report.stopP99Ms[name] === "number", name);
    assert(typeof report.stopMedianMs[name] === "number", name);
  }
  assertEquals(typeof report.targets.admissionP99Ms.pass, "boolean");
  assertEquals(report.evidencePerS, undefined);
});

Deno.test("bench refuses an unknown bench name with exit code 2", async () => {
  const { code, stdout, stderr } = await bench("--only", "core,nope");
  assertEquals(code, 2);
  assertEquals(stdout, "");
  assert(stderr.includes('no bench named "nope"'), stderr);
});
