import variant from "@jitl/quickjs-singlefile-mjs-release-sync";
import { loadQuickJs } from "@sebastianwessel/quickjs";
import { Executor, type RunEvent } from "../runtime/executor/mod.ts";
import { parseScene, SimBackend } from "../skills-bridge/mod.ts";
import {
  ADMISSION_PROGRAM,
  CPU_BOUND_PROGRAM,
  STOP_PROGRAMS,
  TRIVIAL_PROGRAM,
} from "./_programs.ts";
import { summarize, type Summary } from "./_summarize.ts";

/** One figure per stop case, milliseconds. */
export interface StopFigures {
  tightLoop: number;
  memoryThrash: number;
  inSkill: number;
  deepRecursion: number;
  longBuiltin: number;
}

/** What {@linkcode benchCore} measures; every time is in milliseconds. */
export interface CoreFigures {
  /** Source text to the first skill call of a ~2 KB program, warm: median. */
  admissionP50Ms: number;
  /** The same, 99th percentile. */
  admissionP99Ms: number;
  /** `stop()` until the guest halted and in-flight skills were cancelled: p99. */
  stopP99Ms: StopFigures;
  /** The same, medians. */
  stopMedianMs: StopFigures;
  /**
   * CPU the guest's host used after the stop returned, worst case per
   * state: from /proc (10 ms ticks), until a killed host was gone or over
   * the next 100 ms for a halted one.
   */
  cpuAfterStopMaxMs: StopFigures;
  /** Skill-call round trip through the host boundary (answer out, next call in): median, µs. */
  roundTripP50Us: number;
  /** The same, 99th percentile, µs. */
  roundTripP99Us: number;
  /** How far past its deadline a CPU-bound guest is stopped: median. */
  overshootP50Ms: number;
  /** The same, 99th percentile. */
  overshootP99Ms: number;
  /** Trivial programs verified, run and turned into evidence per second. */
  throughputPerS: number;
  /** Median time of one trivial program through our executor. */
  oursMedianMs: number;
  /** Median time of the same program through `@sebastianwessel/quickjs`. */
  peerMedianMs: number;
  /** `oursMedianMs / peerMedianMs`: below 1, we are faster. */
  peerRatio: number;
}

/** Options of {@linkcode benchCore}. */
export interface BenchCoreOptions {
  /** Multiplies every iteration count and duration; default 1. `0.05` is a smoke run. */
  scale?: number;
  /** Progress lines (never the figures); default: none. */
  log?: (line: string) => void;
  /** Aborting ends the bench between iterations, with the abort reason. */
  signal?: AbortSignal;
}

/** Idle time before each admission sample. */
const ADMISSION_IDLE_MS = 5;

/** The CPU-bound guest's deadline in the overshoot figure. */
const OVERSHOOT_TIMEOUT_MS = 50;

/**
 * The core-loop bench: admission latency, e-stop latency per guest state,
 * deadline overshoot, sequential throughput and the ratio against
 * `@sebastianwessel/quickjs` running the same trivial program. Starts and
 * disposes its own executors (workers) and simulators.
 */
export async function benchCore(
  options: BenchCoreOptions = {},
): Promise<CoreFigures> {
  const scale = options.scale ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(
      `Cannot run the core bench: scale must be a finite number > 0, got ${scale}`,
    );
  }
  const log = options.log ?? (() => {});
  const signal = options.signal;
  const times = (n: number, least: number) =>
    Math.max(least, Math.round(n * scale));

  // One long-lived executor, as on a robot: warmed first (V8 tiers the
  // QuickJS wasm and our own code up only after a few hundred runs), then
  // measured; the stop cases come last because a stop may kill its worker.
  return await withExecutor(async (executor) => {
    await warmUp(executor, Math.max(200, 3000 * scale), log, signal);
    const admission = await benchAdmission(
      executor,
      times(500, 5),
      log,
      signal,
    );
    const throughputPerS = await benchThroughput(
      executor,
      Math.max(100, 3000 * scale),
      log,
      signal,
    );
    const peer = await benchPeer(executor, times(150, 5), log, signal);
    const overshoot = await benchOvershoot(
      executor,
      times(100, 3),
      log,
      signal,
    );
    const roundTrip = await benchRoundTrip(executor, times(20, 2), log, signal);
    const stop = await benchStop(executor, times(40, 3), log, signal);
    return {
      admissionP50Ms: admission.median,
      admissionP99Ms: admission.p99,
      stopP99Ms: {
        tightLoop: stop.tightLoop.p99,
        memoryThrash: stop.memoryThrash.p99,
        inSkill: stop.inSkill.p99,
        deepRecursion: stop.deepRecursion.p99,
        longBuiltin: stop.longBuiltin.p99,
      },
      stopMedianMs: {
        tightLoop: stop.tightLoop.median,
        memoryThrash: stop.memoryThrash.median,
        inSkill: stop.inSkill.median,
        deepRecursion: stop.deepRecursion.median,
        longBuiltin: stop.longBuiltin.median,
      },
      cpuAfterStopMaxMs: stop.cpuAfterMaxMs,
      roundTripP50Us: roundTrip.median,
      roundTripP99Us: roundTrip.p99,
      overshootP50Ms: overshoot.median,
      overshootP99Ms: overshoot.p99,
      throughputPerS,
      oursMedianMs: peer.ours.median,
      peerMedianMs: peer.peer.median,
      peerRatio: Math.round(peer.ours.median / peer.peer.median * 1000) / 1000,
    };
  });
}

/** A scene with a few blocks and bowls and no simulated latency. */
const SCENE = parseScene({
  seed: 7,
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "green_block", kind: "block", color: "green", x: 0.2, y: -0.6 },
    { id: "blue_block", kind: "block", color: "blue", x: -0.2, y: -0.3 },
    { id: "yellow_block", kind: "block", color: "yellow", x: 0, y: -0.7 },
    { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
    { id: "green_bowl", kind: "bowl", color: "green", x: -0.2, y: -0.65 },
  ],
});

/** Runs `body` with a warm executor over a fresh simulator, then disposes both. */
async function withExecutor<T>(
  body: (executor: Executor) => Promise<T>,
): Promise<T> {
  // timeScale 1: `wait(30)` really waits, so a stop finds it in flight.
  await using backend = new SimBackend(SCENE, { timeScale: 1 });
  await using executor = await Executor.create({
    backend,
    robotId: "bench",
    caps: { timeoutMs: 60_000, memoryBytes: 64 * 1024 * 1024 },
  });
  return await body(executor);
}

type Log = (line: string) => void;

/** Runs the admission and the trivial program in turn for `durationMs`. */
async function warmUp(
  executor: Executor,
  durationMs: number,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<void> {
  const start = performance.now();
  let runs = 0;
  while (performance.now() - start < durationMs) {
    signal?.throwIfAborted();
    const source = runs % 2 === 0 ? ADMISSION_PROGRAM : TRIVIAL_PROGRAM;
    expectOutcome(
      (await executor.run({ source })).outcome,
      "succeeded",
      "a warm-up program",
    );
    runs += 1;
  }
  log(`warm-up: ${runs} runs in ${Math.round(performance.now() - start)} ms`);
}

async function benchAdmission(
  executor: Executor,
  iterations: number,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<Summary> {
  let sample = 0;
  const samples = await sampleEach(iterations, signal, async () => {
    // A program the robot has not run before, as each delivery is: nothing
    // a host keeps from an earlier run of the same source helps it.
    sample += 1;
    const source = `${ADMISSION_PROGRAM}\n// admission sample ${sample}\n`;
    let firstCall = Number.NaN;
    const onEvent = (event: RunEvent) => {
      if (event.type === "skill_started" && Number.isNaN(firstCall)) {
        firstCall = performance.now();
      }
    };
    await executor.warm();
    // A robot gets its next program while idle, not the instant the last ended.
    await sleep(ADMISSION_IDLE_MS);
    const start = performance.now();
    const evidence = await executor.run({ source }, { onEvent });
    expectOutcome(evidence.outcome, "succeeded", "the admission program");
    return firstCall - start;
  });
  const summary = summarize(samples);
  log(`admission: ${describe(summary)}`);
  return summary;
}

async function benchThroughput(
  executor: Executor,
  durationMs: number,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<number> {
  let runs = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    signal?.throwIfAborted();
    const evidence = await executor.run({ source: TRIVIAL_PROGRAM });
    expectOutcome(evidence.outcome, "succeeded", "the trivial program");
    runs += 1;
    now = performance.now();
  }
  const perS = Math.round(runs / ((now - start) / 1000) * 10) / 10;
  log(`throughput: ${runs} runs in ${Math.round(now - start)} ms = ${perS}/s`);
  return perS;
}

/**
 * The same trivial program through our executor and through
 * `@sebastianwessel/quickjs`, in alternating blocks of 25 runs.
 *
 * Ours: verify, hash, world snapshot, the program in the warm sandbox host's
 * QuickJS context (the engine's memory put back to its ready image after
 * each run), the skill call through the host's pipes into the simulator,
 * world snapshot, evidence record.
 * The peer, as its README recommends: `loadQuickJs()` once (the same QuickJS
 * build, in-process), then `runSandboxed` per program, which makes a fresh
 * context with the same memory, stack and time limits; `say` is a host
 * function handed in through `env`. No verification, no worker, no evidence.
 */
async function benchPeer(
  executor: Executor,
  iterations: number,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<{ ours: Summary; peer: Summary }> {
  const { runSandboxed } = await loadQuickJs(variant);
  const said: string[] = [];
  const peerOptions = {
    env: { say: (text: string) => void said.push(text) },
    executionTimeout: 60_000,
    memoryLimit: 64 * 1024 * 1024,
    maxStackSize: 256 * 1024,
    console: { log: () => {}, error: () => {}, warn: () => {} },
  };
  const peerSource = 'const say = env.say;\nsay("hi");';
  const runPeer = async () => {
    const result = await runSandboxed(
      ({ evalCode }) => evalCode(peerSource),
      peerOptions,
    );
    if (!result.ok) {
      throw new Error(
        `Cannot run the peer: ${result.error.name}: ${result.error.message}`,
      );
    }
  };
  const ours: number[] = [];
  const peer: number[] = [];
  const runOurs = async () => {
    const evidence = await executor.run({ source: TRIVIAL_PROGRAM });
    expectOutcome(evidence.outcome, "succeeded", "the trivial program");
  };
  // The peer's own warm-up (its JavaScript and the wasm it loaded).
  const warmup = Math.min(50, iterations);
  for (let i = 0; i < warmup; i++) await runPeer();
  // Alternating blocks: both sides see the same machine over the same
  // seconds, and each runs back to back as a service would run it.
  const block = 25;
  while (ours.length < iterations) {
    const n = Math.min(block, iterations - ours.length);
    for (const [run, samples] of [[runOurs, ours], [runPeer, peer]] as const) {
      for (let i = 0; i < n; i++) {
        signal?.throwIfAborted();
        const t0 = performance.now();
        await run();
        samples.push(performance.now() - t0);
      }
    }
  }
  if (said.length !== warmup + iterations) {
    throw new Error(
      `Cannot compare with the peer: it called say ${said.length} times, expected ${
        warmup + iterations
      }`,
    );
  }
  const result = { ours: summarize(ours), peer: summarize(peer) };
  log(`ours (trivial program): ${describe(result.ours)}`);
  log(`peer @sebastianwessel/quickjs: ${describe(result.peer)}`);
  return result;
}

async function benchOvershoot(
  executor: Executor,
  iterations: number,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<Summary> {
  const samples = await sampleEach(iterations, signal, async () => {
    await executor.warm();
    let ended = Number.NaN;
    const start = performance.now();
    const evidence = await executor.run({
      source: CPU_BOUND_PROGRAM,
      budgets: { timeoutMs: OVERSHOOT_TIMEOUT_MS },
    }, {
      onEvent: (event) => {
        if (event.type === "run_ended") ended = performance.now();
      },
    });
    if (evidence.failure?.label !== "timeout") {
      throw new Error(
        `Cannot measure the deadline overshoot: the CPU-bound program ended with ${
          evidence.failure?.label ?? evidence.outcome
        }, not timeout`,
      );
    }
    return ended - start - OVERSHOOT_TIMEOUT_MS;
  });
  const summary = summarize(samples);
  log(`overshoot (deadline ${OVERSHOOT_TIMEOUT_MS} ms): ${describe(summary)}`);
  return summary;
}

type StopCase = keyof typeof STOP_PROGRAMS;

async function benchStop(
  executor: Executor,
  iterations: number,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<Record<StopCase, Summary> & { cpuAfterMaxMs: StopFigures }> {
  const result = {} as Record<StopCase, Summary> & {
    cpuAfterMaxMs: StopFigures;
  };
  result.cpuAfterMaxMs = {} as StopFigures;
  for (const name of Object.keys(STOP_PROGRAMS) as StopCase[]) {
    const source = STOP_PROGRAMS[name];
    // The guest runs once `say("go")` ended, or is inside `wait(30)`.
    const running = name === "inSkill"
      ? (e: RunEvent) => e.type === "skill_started" && e.skill === "wait"
      : (e: RunEvent) => e.type === "skill_ended" && e.call.skill === "say";
    let killed = 0;
    let cpuAfterMax = 0;
    const samples = await sampleEach(iterations, signal, async () => {
      const stop = await stopOnce(executor, source, running, name);
      if (stop.killed) killed += 1;
      cpuAfterMax = Math.max(cpuAfterMax, stop.cpuAfterMs);
      return stop.ms;
    });
    result[name] = summarize(samples);
    result.cpuAfterMaxMs[name] = Math.round(cpuAfterMax * 1000) / 1000;
    log(
      `stop ${name}: ${
        describe(result[name])
      }; host killed after ${killed} of ${iterations}; guest CPU after the stop at most ${
        result.cpuAfterMaxMs[name]
      } ms`,
    );
  }
  return result;
}

/**
 * Starts `source`, waits until it runs, stops it; returns the stop latency
 * and how long the executor then took to be warm again (a replaced worker).
 */
async function stopOnce(
  executor: Executor,
  source: string,
  running: (event: RunEvent) => boolean,
  name: string,
): Promise<{ ms: number; killed: boolean; cpuAfterMs: number }> {
  // Each stop meets a robot that has recovered from the last one: the host
  // killed then has been replaced and its successor is warm. Otherwise the
  // successor's start (a Deno process loading QuickJS, some hundreds of ms
  // of CPU) runs beside the next stop, on a machine of two cores one of
  // which the spinning guest holds.
  await executor.warm({ spare: true });
  const pid = executor.hostPids[0]!;
  const started = Promise.withResolvers<void>();
  const run = executor.run({ source }, {
    onEvent: (event) => {
      if (running(event)) started.resolve();
    },
  });
  const ended = run.then((evidence) => {
    throw new Error(
      `Cannot measure the stop of ${name}: the run ended on its own (${evidence.outcome}: ${evidence.failure?.message})`,
    );
  });
  ended.catch(() => {});
  await Promise.race([started.promise, ended]);
  // A few ms more: the guest is past the call and deep in its loop.
  await sleep(3);
  const t0 = performance.now();
  await executor.stop("bench stop");
  const stoppedAt = performance.now();
  const ms = stoppedAt - t0;
  const cpuAtStop = await cpuMs(pid);
  const evidence = await run;
  expectOutcome(evidence.outcome, "stopped", `the ${name} program`);
  // The CPU the host's process used after the stop returned: its last
  // reading (10 ms ticks) before it was gone, or 100 ms later if it idles.
  let cpuAfterMs = 0;
  let killed = false;
  let lastCpu = cpuAtStop;
  for (;;) {
    const cpu = await cpuMs(pid);
    if (cpu === null) {
      killed = true;
      break;
    }
    lastCpu = cpu;
    if (performance.now() - stoppedAt >= 100) break;
    await sleep(2);
  }
  cpuAfterMs = lastCpu === null || cpuAtStop === null ? 0 : lastCpu - cpuAtStop;
  executor.resume();
  await executor.warm();
  return { ms, killed, cpuAfterMs };
}

/**
 * CPU time (user + system) of process `pid`, ms; `null` when it is gone or
 * a zombie. Read by `cat` (another process's /proc needs all permissions in
 * Deno).
 */
async function cpuMs(pid: number): Promise<number | null> {
  try {
    const out = await new Deno.Command("cat", {
      args: [`/proc/${pid}/stat`],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return null;
    const stat = new TextDecoder().decode(out.stdout);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return null;
    // utime and stime are fields 14 and 15 of the line: 12 and 13 here.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * The round trip of a skill call through the host boundary: for a program
 * of back-to-back `holding()` calls, the gap between one call's end (its
 * answer leaves the core) and the next call's start (it arrives).
 */
async function benchRoundTrip(
  executor: Executor,
  iterations: number,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<Summary> {
  const gaps: number[] = [];
  for (let i = 0; i < iterations; i++) {
    signal?.throwIfAborted();
    const evidence = await executor.run({
      source: "for (let i = 0; i < 200; i++) holding();",
    });
    expectOutcome(evidence.outcome, "succeeded", "the round-trip program");
    for (let k = 1; k < evidence.calls.length; k++) {
      const previous = evidence.calls[k - 1]!;
      const gap = evidence.calls[k]!.startMs - previous.startMs -
        previous.durationMs;
      gaps.push(Math.round(gap * 1000));
    }
  }
  const summary = summarize(gaps);
  log(
    `skill round trip: n=${summary.n} median=${summary.median} p99=${summary.p99} µs`,
  );
  return summary;
}

/** `iterations` samples of `measure`, one after another; checks `signal` before each. */
async function sampleEach(
  iterations: number,
  signal: AbortSignal | undefined,
  measure: () => Promise<number>,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    signal?.throwIfAborted();
    samples.push(await measure());
  }
  return samples;
}

function expectOutcome(actual: string, expected: string, what: string): void {
  if (actual !== expected) {
    throw new Error(
      `Cannot use the measurement: ${what} ended "${actual}", expected "${expected}"`,
    );
  }
}

function describe(s: Summary): string {
  return `n=${s.n} median=${s.median} p99=${s.p99} min=${s.min} max=${s.max} ms`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
