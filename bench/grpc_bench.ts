/**
 * gRPC round trips over loopback against an in-process edge node: a signed
 * delivery that runs at once (envelope out → evidence back), and an
 * emergency stop from the client's `Stop` call to the guest halted.
 *
 * `deno run -A --unstable-worker-options bench/grpc_bench.ts` prints the
 * result as JSON.
 * @module
 */
import {
  clientFor,
  makeKey,
  signed,
  startNode,
} from "../test/_edge_fixture.ts";
import { summarize } from "./_summarize.ts";

/** What {@linkcode benchGrpc} measures; every time is in milliseconds. */
export interface GrpcFigures {
  /** `Deliver` with `run: true` of a pre-signed trivial program (a new version each time) until its evidence arrives: median. */
  deliverRunP50Ms: number;
  /** The same, 99th percentile. */
  deliverRunP99Ms: number;
  /** `Stop` while the guest spins in a tight loop, until the robot answers (after the guest halted): median. */
  grpcStopP50Ms: number;
  /** The same, 99th percentile. */
  grpcStopP99Ms: number;
}

/** Options of {@linkcode benchGrpc}. */
export interface BenchGrpcOptions {
  /** Multiplies every iteration count; default 1. `0.05` is a smoke run. */
  scale?: number;
  /** Progress lines (never the figures); default: none. */
  log?: (line: string) => void;
  /** Aborting ends the bench between iterations, with the abort reason. */
  signal?: AbortSignal;
}

/** How long the guest spins before each stop sample. */
const SPIN_BEFORE_STOP_MS = 5;

/**
 * The gRPC bench: 300 deliver-and-run round trips and 40 stops (after
 * warm-up), over loopback with a plaintext channel, one client.
 */
export async function benchGrpc(
  options: BenchGrpcOptions = {},
): Promise<GrpcFigures> {
  const scale = options.scale ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(
      `Cannot run the gRPC bench: scale must be a finite number > 0, got ${scale}`,
    );
  }
  const log = options.log ?? (() => {});
  const signal = options.signal;
  const times = (n: number, least: number) =>
    Math.max(least, Math.round(n * scale));
  const key = await makeKey("bench");
  try {
    await using node = await startNode(key);
    // Signs a fresh operator command for every Run, Resume and Deliver+run
    // (the robot refuses them without one): the figures include it.
    using client = clientFor(`127.0.0.1:${node.grpc.port}`, key, "arm-01");

    const warmUp = times(30, 3);
    const deliveries = warmUp + times(300, 10);
    log(`signing ${deliveries} envelopes…`);
    const envelopes: string[] = [];
    for (let version = 1; version <= deliveries; version++) {
      envelopes.push(
        await signed(key, {
          programId: "hi",
          version,
          source: 'say("hi");',
        }),
      );
    }
    log(
      `deliver + run: ${deliveries - warmUp} samples after ${warmUp} warm-up`,
    );
    const deliverRun: number[] = [];
    for (const [i, envelope] of envelopes.entries()) {
      signal?.throwIfAborted();
      const started = performance.now();
      const { receipt, evidence } = await client.deliver(envelope, {
        run: true,
      });
      const elapsed = performance.now() - started;
      if (evidence?.outcome !== "succeeded") {
        throw new Error(
          `Cannot measure deliver + run: delivery ${i + 1} ended ${
            evidence?.outcome ?? `refused (${receipt.message})`
          }`,
        );
      }
      if (i >= warmUp) deliverRun.push(elapsed);
    }

    const { receipt } = await client.deliver(
      await signed(key, {
        programId: "spin",
        source: 'say("go");\nwhile (true) {}',
      }),
    );
    if (!receipt.accepted) {
      throw new Error(
        `Cannot measure stop: the spinning program was refused (${receipt.message})`,
      );
    }
    const stopWarmUp = times(5, 1);
    const stops = stopWarmUp + times(40, 3);
    log(`stop: ${stops - stopWarmUp} samples after ${stopWarmUp} warm-up`);
    const grpcStop: number[] = [];
    for (let i = 0; i < stops; i++) {
      signal?.throwIfAborted();
      const { promise: spinning, resolve } = Promise.withResolvers<void>();
      const run = client.run("spin", {
        onEvent: (event) => {
          if (event.type === "skill_ended") resolve();
        },
      });
      await Promise.race([spinning, run]);
      await new Promise((done) => setTimeout(done, SPIN_BEFORE_STOP_MS));
      const started = performance.now();
      await client.stop("bench");
      const elapsed = performance.now() - started;
      const evidence = await run;
      if (evidence.outcome !== "stopped") {
        throw new Error(
          `Cannot measure stop: run ${
            i + 1
          } ended ${evidence.outcome}, not stopped`,
        );
      }
      await client.resume();
      if (i >= stopWarmUp) grpcStop.push(elapsed);
    }

    const deliverSummary = summarize(deliverRun);
    const stopSummary = summarize(grpcStop);
    return {
      deliverRunP50Ms: deliverSummary.median,
      deliverRunP99Ms: deliverSummary.p99,
      grpcStopP50Ms: stopSummary.median,
      grpcStopP99Ms: stopSummary.p99,
    };
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(
    JSON.stringify(
      await benchGrpc({ log: (line) => console.error(line) }),
      null,
      2,
    ),
  );
}
