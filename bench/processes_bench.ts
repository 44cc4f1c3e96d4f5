/**
 * The process boundary under load: the emergency stop and the core's event
 * loop while six clients (another process: Node.js grpc-js) flood Validate
 * with a heavy accepted 64 KiB program, and the resident memory of every
 * robot process (core, gateway, sandbox hosts) idle and after 1 000 and
 * 10 000 runs.
 *
 * `deno run -A --unstable-worker-options bench/processes_bench.ts` prints
 * the result as JSON.
 * @module
 */
import {
  clientFor,
  makeKey,
  signed,
  startNode,
  type TestKey,
} from "../test/_edge_fixture.ts";
import { freePort } from "../test/_mosquitto.ts";
import { summarize } from "./_summarize.ts";

/** What {@linkcode benchProcesses} measures. */
export interface ProcessFigures {
  /** Stop → guest halted (tight loop) while the Validate flood runs: median, ms. */
  stopUnderValidateP50Ms: number;
  /** The same, 99th percentile. */
  stopUnderValidateP99Ms: number;
  /** Lateness of a 1 ms timer on the core's event loop during the flood: median, ms. */
  loopLagP50Ms: number;
  /** The same, 99th percentile. */
  loopLagP99Ms: number;
  /** Validate calls answered per second during the flood. */
  validatePerS: number;
  /** RSS of the core and its helper processes together, idle, MiB. */
  rssIdleMiB: number;
  /** The same after 1 000 runs. */
  rss1kMiB: number;
  /** The same after 10 000 runs (or the scaled count). */
  rss10kMiB: number;
  /** `rss10kMiB / rss1kMiB`. */
  rssGrowth: number;
  /**
   * The same processes idle, by proportional set size: a page shared by n
   * processes counts 1/n in each (the Deno binary's code is mapped by all
   * four, and by the bench's own process and any other Deno running, so
   * this is a little under the robot's own share), not once per process as
   * the sum of RSS counts it. MiB.
   */
  pssIdleMiB: number;
}

/** Options of {@linkcode benchProcesses}. */
export interface BenchProcessesOptions {
  /** Multiplies iteration counts and run totals; default 1. `0.05` is a smoke run. */
  scale?: number;
  /** Progress lines (never the figures); default: none. */
  log?: (line: string) => void;
  /** Aborting ends the bench between iterations. */
  signal?: AbortSignal;
}

const ROOT = new URL("..", import.meta.url).pathname;
const CLIENT_DIR = `${ROOT}test/fixtures/node_grpc_client`;

/** An accepted program of about 64 KiB: many detects and branches. */
export function heavyProgram(): string {
  const lines: string[] = [];
  for (let i = 0; lines.join("\n").length < 60_000; i++) {
    lines.push(
      `const b${i} = detect("red block");`,
      `if (b${i}.length > 0 && holding() === null) { say("seen " + b${i}[0].id); }`,
    );
  }
  return lines.join("\n");
}

/** Runs the process bench. */
export async function benchProcesses(
  options: BenchProcessesOptions = {},
): Promise<ProcessFigures> {
  const scale = options.scale ?? 1;
  const log = options.log ?? (() => {});
  const key = await makeKey("bench");
  try {
    const flood = await benchFlood(key, scale, log, options.signal);
    const rss = await benchMemory(key, scale, log, options.signal);
    return { ...flood, ...rss };
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
}

async function installNodeClient(): Promise<void> {
  try {
    await Deno.stat(`${CLIENT_DIR}/node_modules/@grpc/grpc-js/package.json`);
  } catch {
    const npm = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund", "--ignore-scripts"],
      cwd: CLIENT_DIR,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!npm.success) {
      throw new Error(
        `Cannot install the Node.js bench client: ${
          new TextDecoder().decode(npm.stderr)
        }`,
      );
    }
  }
}

async function benchFlood(
  key: TestKey,
  scale: number,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<
  Pick<
    ProcessFigures,
    | "stopUnderValidateP50Ms"
    | "stopUnderValidateP99Ms"
    | "loopLagP50Ms"
    | "loopLagP99Ms"
    | "validatePerS"
  >
> {
  await installNodeClient();
  await using node = await startNode(key);
  const target = `127.0.0.1:${node.grpc.port}`;
  using client = clientFor(target, key, "arm-01");
  const heavy = await signed(key, {
    programId: "heavy",
    source: heavyProgram(),
  });
  const envelopeFile = `${key.dir}/heavy.json`;
  await Deno.writeTextFile(envelopeFile, heavy);
  await client.deliver(
    await signed(key, {
      programId: "spin",
      source: 'say("go");\nwhile (true) {}',
    }),
  );
  // The flood: 6 channels from another process, back to back.
  const perClient = Math.max(3, Math.round(40 * scale));
  const flooding = new Deno.Command("node", {
    args: [
      `${CLIENT_DIR}/client.mjs`,
      target,
      `${ROOT}protos`,
      "validate",
      envelopeFile,
      "6",
      String(perClient),
    ],
    cwd: CLIENT_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  // The core's event loop: how late a 1 ms timer fires.
  const lags: number[] = [];
  let last = performance.now();
  let floodDone = false;
  const ticker = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  const stops: number[] = [];
  void flooding.then(() => floodDone = true);
  await new Promise((resolve) => setTimeout(resolve, 200));
  while (!floodDone && stops.length < Math.max(3, Math.round(40 * scale))) {
    signal?.throwIfAborted();
    const { promise: spinning, resolve } = Promise.withResolvers<void>();
    const run = node.service.run("spin", {
      origin: "schedule",
      onEvent: (event) => {
        if (event.type === "skill_ended") resolve();
      },
    });
    await spinning;
    await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await node.service.stop("bench stop");
    stops.push(performance.now() - t0);
    await run;
    await node.service.resume({ origin: "schedule" });
  }
  const result = await flooding;
  clearInterval(ticker);
  if (!result.success) {
    throw new Error(
      `Cannot flood Validate: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
  const { codes } = JSON.parse(
    new TextDecoder().decode(result.stdout).trim().split("\n").at(-1)!,
  );
  const stop = summarize(stops);
  const lag = summarize(lags);
  const validatePerS = Math.round((6 * perClient) / (codes.ms / 1000) * 10) /
    10;
  log(
    `under a Validate flood (${
      6 * perClient
    } calls, ${validatePerS}/s): stop median=${stop.median} p99=${stop.p99} ms (n=${stop.n}); loop lag median=${lag.median} p99=${lag.p99} ms`,
  );
  return {
    stopUnderValidateP50Ms: stop.median,
    stopUnderValidateP99Ms: stop.p99,
    loopLagP50Ms: lag.median,
    loopLagP99Ms: lag.p99,
    validatePerS,
  };
}

/**
 * The resident memory of `pid` and all its descendants, MiB, from `ps`
 * (reading another process's /proc needs all permissions in Deno).
 */
export async function rssMiB(pid: number): Promise<number> {
  const rows = await processRows();
  const family = familyOf(pid, rows);
  const kib = rows.filter(([p]) => family.has(p!)).reduce(
    (sum, row) => sum + (row[2] ?? 0),
    0,
  );
  return Math.round(kib / 1024 * 10) / 10;
}

/**
 * The proportional set size of `pid` and all its descendants, MiB, from
 * each one's `/proc/<pid>/smaps_rollup`, read with `cat` as `ps` is.
 */
export async function pssMiB(pid: number): Promise<number> {
  let kib = 0;
  for (const member of familyOf(pid, await processRows())) {
    const out = await new Deno.Command("cat", {
      args: [`/proc/${member}/smaps_rollup`],
      stdout: "piped",
      stderr: "null",
    }).output();
    // A process that ended between `ps` and here holds nothing.
    const match = /^Pss:\s+(\d+) kB/m.exec(
      new TextDecoder().decode(out.stdout),
    );
    if (match) kib += Number(match[1]);
  }
  return Math.round(kib / 1024 * 10) / 10;
}

/** `[pid, ppid, rss KiB]` of every process, from `ps`. */
async function processRows(): Promise<number[][]> {
  const out = await new Deno.Command("ps", {
    args: ["-e", "-o", "pid=,ppid=,rss="],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").map(
    (line) => line.trim().split(/\s+/).map(Number),
  );
}

function familyOf(pid: number, rows: number[][]): Set<number> {
  const family = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [child, parent] of rows) {
      if (!family.has(child!) && family.has(parent!)) {
        family.add(child!);
        grew = true;
      }
    }
  }
  return family;
}

async function benchMemory(
  key: TestKey,
  scale: number,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<
  Pick<
    ProcessFigures,
    "rssIdleMiB" | "rss1kMiB" | "rss10kMiB" | "rssGrowth" | "pssIdleMiB"
  >
> {
  const port = freePort();
  const config = `${key.dir}/config.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      robotId: "arm-01",
      stateDir: `${key.dir}/rss-state`,
      grpc: { listen: `127.0.0.1:${port}` },
      trustStore: key.trustPath,
      backend: { kind: "sim" },
    }),
  );
  const task: string[] = JSON.parse(
    await Deno.readTextFile(`${ROOT}deno.json`),
  ).tasks.start.split(/\s+/);
  const [, , ...rest] = task;
  const script = rest.pop()!;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...rest, `${ROOT}${script}`, "--config", config, "--quiet"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let seen = "";
    while (!/serving gRPC on/.test(seen)) {
      const { value, done } = await stderr.read();
      if (done) throw new Error(`Cannot start the service: ${seen}`);
      seen += value;
    }
    void (async () => {
      while (!(await stderr.read()).done) { /* drain */ }
    })();
    using client = clientFor(`127.0.0.1:${port}`, key, "arm-01");
    await client.deliver(
      await signed(key, { programId: "trivial", source: 'say("hi");' }),
    );
    // Each figure is taken once the robot is idle again: a host retired on
    // its memory mark has been replaced and its successor is warm.
    const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));
    await settle();
    const rssIdleMiB = await rssMiB(child.pid);
    const pssIdleMiB = await pssMiB(child.pid);
    const runTo = async (total: number, done: number) => {
      for (let i = done; i < total; i++) {
        signal?.throwIfAborted();
        await client.run("trivial");
      }
    };
    const first = Math.max(20, Math.round(1000 * scale));
    const second = Math.max(40, Math.round(10_000 * scale));
    await runTo(first, 0);
    await settle();
    const rss1kMiB = await rssMiB(child.pid);
    await runTo(second, first);
    await settle();
    const rss10kMiB = await rssMiB(child.pid);
    const rssGrowth = Math.round(rss10kMiB / rss1kMiB * 1000) / 1000;
    log(
      `RSS of the robot's processes: idle ${rssIdleMiB} MiB (PSS ${pssIdleMiB} MiB), after ${first} runs ${rss1kMiB} MiB, after ${second} runs ${rss10kMiB} MiB`,
    );
    return { rssIdleMiB, rss1kMiB, rss10kMiB, rssGrowth, pssIdleMiB };
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // Gone.
    }
    await child.status;
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(
    await benchProcesses({ log: (line) => console.error(line) }),
    null,
    2,
  ));
}
