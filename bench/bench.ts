/**
 * `deno task bench`: runs the bench modules and prints a table of medians,
 * p99s and targets, or with `--json` one JSON object with every figure (and
 * nothing else) on stdout. Progress goes to stderr.
 *
 * ```
 * deno task bench [--json] [--only core,evidence] [--quick] [--check]
 * ```
 *
 * `--only` runs a subset; `--quick` is a short smoke run (its numbers are
 * not the figures); `--check` exits 1 when a target fails.
 *
 * A bench module is a function that measures and returns named figures;
 * add one to {@linkcode BENCHES} with the rows (and targets) to show.
 * @module
 */
import type { BenchContext, BenchModule } from "./_bench_module.ts";
import { collectReport } from "./_collect_report.ts";
import { renderTable } from "./_render_table.ts";
import { benchCore } from "./core_bench.ts";
import { benchEvidence } from "./evidence_bench.ts";
import { benchFleet } from "./fleet_bench.ts";
import { benchGrpc } from "./grpc_bench.ts";
import { benchMqttStop } from "./mqtt_stop_bench.ts";
import { benchProcesses } from "./processes_bench.ts";

/** Every bench module, in the order they run. */
const BENCHES: readonly BenchModule[] = [
  {
    name: "core",
    run: ({ quick, log, signal }: BenchContext) =>
      benchCore({ scale: quick ? 0.05 : 1, log, signal }),
    rows: [
      {
        label: "admission: source → 1st skill call (a new 2 KB program)",
        unit: "ms",
        median: "admissionP50Ms",
        p99: "admissionP99Ms",
        target: { figure: "admissionP99Ms", op: "<=", limit: 3 },
      },
      ...([
        "tightLoop",
        "memoryThrash",
        "inSkill",
        "deepRecursion",
        "longBuiltin",
      ] as const)
        .flatMap((name) => [{
          label: `stop: ${name}`,
          unit: "ms",
          median: `stopMedianMs.${name}`,
          p99: `stopP99Ms.${name}`,
          target: { figure: `stopP99Ms.${name}`, op: "<=", limit: 10 } as const,
        }, {
          label: `  guest CPU after the stop, worst`,
          unit: "ms",
          value: `cpuAfterStopMaxMs.${name}`,
          target: {
            figure: `cpuAfterStopMaxMs.${name}`,
            op: "<=",
            limit: 50,
          } as const,
        }]),
      {
        label: "skill-call round trip through the host (µs)",
        unit: "",
        median: "roundTripP50Us",
        p99: "roundTripP99Us",
      },
      {
        label: "overshoot past a 50 ms deadline",
        unit: "ms",
        median: "overshootP50Ms",
        p99: "overshootP99Ms",
        target: { figure: "overshootP99Ms", op: "<=", limit: 10 },
      },
      {
        label: "throughput: trivial program, sequential",
        unit: "/s",
        value: "throughputPerS",
        target: { figure: "throughputPerS", op: ">=", limit: 1000 },
      },
      { label: "trivial program: ours", unit: "ms", median: "oursMedianMs" },
      {
        label: "trivial program: @sebastianwessel/quickjs",
        unit: "ms",
        median: "peerMedianMs",
      },
      {
        label: "ratio ours / peer (medians)",
        unit: "",
        value: "peerRatio",
        target: { figure: "peerRatio", op: "<=", limit: 0.2 },
      },
    ],
  },
  {
    name: "evidence",
    run: async ({ quick, signal }: BenchContext) =>
      prefixed(
        "evidence",
        await benchEvidence({ durationMs: quick ? 1000 : 10_000, signal }),
      ),
    rows: [
      {
        label: "evidence: outbox → Mosquitto QoS 1, acked",
        unit: "/s",
        value: "evidencePerS",
        target: { figure: "evidencePerS", op: ">=", limit: 5000 },
      },
      {
        label: "  bare mqtt.js QoS 1 publisher (ceiling)",
        unit: "/s",
        value: "evidenceCeilingPerS",
      },
      { label: "  ratio ours / ceiling", unit: "", value: "evidenceRatio" },
      {
        label: "  append → acked and deleted (ours)",
        unit: "ms",
        median: "evidenceLatencyP50Ms",
        p99: "evidenceLatencyP99Ms",
      },
      {
        label: "  publish → acked (ceiling)",
        unit: "ms",
        median: "evidenceCeilingLatencyP50Ms",
        p99: "evidenceCeilingLatencyP99Ms",
      },
      {
        label: "evidence record size",
        unit: "B",
        value: "evidenceRecordBytes",
      },
    ],
  },
  {
    name: "grpc",
    run: ({ quick, log, signal }: BenchContext) =>
      benchGrpc({ scale: quick ? 0.05 : 1, log, signal }),
    rows: [
      {
        label: "gRPC: signed deliver + run → evidence",
        unit: "ms",
        median: "deliverRunP50Ms",
        p99: "deliverRunP99Ms",
        target: { figure: "deliverRunP99Ms", op: "<=", limit: 15 },
      },
      {
        label: "gRPC: Stop → guest halted (tight loop)",
        unit: "ms",
        median: "grpcStopP50Ms",
        p99: "grpcStopP99Ms",
        target: { figure: "grpcStopP99Ms", op: "<=", limit: 15 },
      },
    ],
  },
  {
    name: "mqtt-stop",
    run: ({ quick, log, signal }: BenchContext) =>
      benchMqttStop({ iterations: quick ? 5 : 30, log, signal }),
    rows: [
      {
        label: "stop over MQTT: cmd/stop → guest halted",
        unit: "ms",
        median: "mqttStopP50Ms",
        p99: "mqttStopP99Ms",
        target: { figure: "mqttStopP99Ms", op: "<=", limit: 20 },
      },
      {
        label: "stop over MQTT: cmd/stop → run_ended, evidence written",
        unit: "ms",
        median: "mqttStopEvidenceP50Ms",
        p99: "mqttStopEvidenceP99Ms",
      },
    ],
  },
  {
    name: "fleet",
    run: ({ quick, log, signal }: BenchContext) =>
      benchFleet({
        records: quick ? 1000 : 20_000,
        storedRuns: quick ? 5_000 : 100_000,
        requests: quick ? 20 : 200,
        log,
        signal,
      }),
    rows: [
      {
        label: "fleet: evidence ingest into SQLite",
        unit: "/s",
        value: "ingestSqlitePerS",
        target: { figure: "ingestSqlitePerS", op: ">=", limit: 3000 },
      },
      {
        label: "fleet: evidence ingest into PostgreSQL",
        unit: "/s",
        value: "ingestPostgresPerS",
        target: { figure: "ingestPostgresPerS", op: ">=", limit: 3000 },
      },
      {
        label: "fleet: records per ingest write, SQLite",
        unit: "",
        value: "ingestSqliteBatch",
      },
      {
        label: "fleet: records per ingest write, PostgreSQL",
        unit: "",
        value: "ingestPostgresBatch",
      },
      {
        label: "fleet: GET /api/runs, 100 000 runs (SQLite)",
        unit: "ms",
        median: "apiRunsP50Ms",
        p99: "apiRunsP99Ms",
        target: { figure: "apiRunsP99Ms", op: "<=", limit: 50 },
      },
      {
        label: "fleet: GET /api/runs, 100 000 runs (PostgreSQL)",
        unit: "ms",
        median: "apiRunsPgP50Ms",
        p99: "apiRunsPgP99Ms",
        target: { figure: "apiRunsPgP99Ms", op: "<=", limit: 50 },
      },
    ],
  },
  {
    name: "processes",
    run: ({ quick, log, signal }: BenchContext) =>
      benchProcesses({ scale: quick ? 0.05 : 1, log, signal }),
    rows: [
      {
        label: "stop → guest halted, 6 clients validating 64 KiB",
        unit: "ms",
        median: "stopUnderValidateP50Ms",
        p99: "stopUnderValidateP99Ms",
        target: { figure: "stopUnderValidateP99Ms", op: "<=", limit: 10 },
      },
      {
        label: "core event-loop lag during the Validate flood",
        unit: "ms",
        median: "loopLagP50Ms",
        p99: "loopLagP99Ms",
        target: { figure: "loopLagP99Ms", op: "<=", limit: 5 },
      },
      { label: "Validate calls answered", unit: "/s", value: "validatePerS" },
      {
        label: "RSS of all robot processes, idle",
        unit: "MiB",
        value: "rssIdleMiB",
        target: { figure: "rssIdleMiB", op: "<=", limit: 200 },
      },
      {
        label: "  the same by PSS (shared pages once)",
        unit: "MiB",
        value: "pssIdleMiB",
      },
      { label: "RSS after 1 000 runs", unit: "MiB", value: "rss1kMiB" },
      { label: "RSS after 10 000 runs", unit: "MiB", value: "rss10kMiB" },
      {
        label: "RSS growth 10 000 / 1 000 runs",
        unit: "",
        value: "rssGrowth",
        target: { figure: "rssGrowth", op: "<=", limit: 1.1 },
      },
    ],
  },
];

/** `figures` with every key that does not start with `prefix` prefixed by it. */
function prefixed(prefix: string, figures: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(figures).map(([key, value]) => [
      key.startsWith(prefix)
        ? key
        : `${prefix}${key[0]!.toUpperCase()}${key.slice(1)}`,
      value,
    ]),
  );
}

interface Args {
  help: boolean;
  json: boolean;
  quick: boolean;
  check: boolean;
  only: string[] | null;
}

const USAGE =
  "usage: deno task bench [--json] [--only <name>,<name>…] [--quick] [--check]";

/** The text `deno task bench --help` prints. */
function help(): string {
  return `${USAGE}

Measures the runtime against the design's targets and prints one table
(stop latency, sandbox start, run throughput, MQTT stop and evidence paths).

Options:
  --json              print the figures and targets as one JSON object
  --only <names>      run only these benches, comma-separated
                      (${BENCHES.map((b) => b.name).join(", ")})
  --quick             a short smoke run (not the figures to report)
  --check             exit 1 when a target is missed
  -h, --help          show this help

Exit: 0 done (with --check: every target met), 1 a bench failed or a target
was missed (--check), 2 bad usage, 130 interrupted.`;
}

function parseArgs(args: readonly string[]): Args {
  const parsed: Args = {
    help: false,
    json: false,
    quick: false,
    check: false,
    only: null,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--help" || arg === "-h") parsed.help = true;
    else if (arg === "--json") parsed.json = true;
    else if (arg === "--quick") parsed.quick = true;
    else if (arg === "--check") parsed.check = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const list = arg === "--only" ? args[++i] : arg.slice("--only=".length);
      if (list === undefined || list === "") {
        throw new TypeError(`Cannot parse --only: it needs a list of benches`);
      }
      const names = list.split(",").map((s) => s.trim()).filter((s) => s);
      const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
      if (unknown.length > 0) {
        throw new TypeError(
          `Cannot run --only ${list}: no bench named ${
            unknown.map((n) => JSON.stringify(n)).join(", ")
          } (there are ${BENCHES.map((b) => b.name).join(", ")})`,
        );
      }
      parsed.only = names;
    } else {
      throw new TypeError(`Cannot parse the arguments: unknown "${arg}"`);
    }
  }
  return parsed;
}

async function main(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    console.error(USAGE);
    return 2;
  }
  if (args.help) {
    console.log(help());
    return 0;
  }
  const modules = BENCHES.filter((b) =>
    args.only === null || args.only.includes(b.name)
  );
  const abort = new AbortController();
  const onInterrupt = () => abort.abort(new Error("interrupted (Ctrl-C)"));
  Deno.addSignalListener("SIGINT", onInterrupt);
  const results: { module: BenchModule; figures: object }[] = [];
  try {
    for (const module of modules) {
      const log = (line: string) => console.error(`[${module.name}] ${line}`);
      log("running…");
      const started = performance.now();
      const figures = await module.run({
        quick: args.quick,
        log,
        signal: abort.signal,
      });
      log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      results.push({ module, figures });
    }
  } catch (error) {
    if (abort.signal.aborted) {
      console.error("Cannot finish the bench: it was interrupted (Ctrl-C)");
      return 130;
    }
    console.error(
      `Cannot finish the bench: ${
        error instanceof Error ? error.stack ?? error.message : String(error)
      }`,
    );
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  const report = collectReport(results);
  const failed = Object.values(report.targets).filter((t) => !t.pass);
  if (args.json) {
    console.log(JSON.stringify(
      { ...report.figures, targets: report.targets },
      null,
      2,
    ));
  } else {
    console.log(
      `cap-edge bench — Deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs, ${
        new Date().toISOString()
      }${args.quick ? " (--quick: smoke run, not the figures)" : ""}\n`,
    );
    console.log(renderTable(results, report.targets));
    const total = Object.keys(report.targets).length;
    console.log(
      `\ntargets: ${total - failed.length} of ${total} met${
        failed.length > 0
          ? `; missed: ${failed.map((t) => t.figure).join(", ")}`
          : ""
      }`,
    );
  }
  return args.check && failed.length > 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
