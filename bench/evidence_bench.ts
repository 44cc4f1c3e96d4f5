/**
 * Evidence throughput: records per second appended to the durable outbox
 * (its default `synchronous: "normal"`: in the WAL when the append returns,
 * fsync'ed within a second) and acknowledged by a local Mosquitto with QoS 1,
 * sustained.
 *
 * `deno run -A bench/evidence_bench.ts` prints the result as JSON.
 * @module
 */
import { join } from "node:path";
import { MqttTelemetry, Outbox } from "../runtime/telemetry/mod.ts";
import { startMosquitto } from "../test/_mosquitto.ts";

/** Options of {@linkcode benchEvidence}. */
export interface BenchEvidenceOptions {
  /** How long to sustain the stream. Default 10000 ms. */
  durationMs?: number;
  /** Records allowed to wait in the outbox before the producer pauses. Default 512. */
  backlog?: number;
  signal?: AbortSignal;
}

/** Result of {@linkcode benchEvidence}. */
export interface BenchEvidenceResult {
  /** Records acknowledged by the broker (and deleted from the outbox) per second. */
  evidencePerS: number;
  acked: number;
  appended: number;
  durationMs: number;
  recordBytes: number;
}

/** A typical evidence record: a short program, a dozen skill calls, a small world. */
function _record(i: number): object {
  const objects = ["red_block", "blue_block", "green_bowl", "blue_bowl"].map(
    (id, k) => ({
      id,
      kind: id.split("_")[1],
      color: id.split("_")[0],
      x: k / 10,
      y: -0.5,
      z: 0,
      on: null,
    }),
  );
  return {
    runId: `bench-${i}`,
    robotId: "bench-01",
    startedAt: new Date().toISOString(),
    endedAt: new Date().toISOString(),
    program: {
      sha256: "0".repeat(64),
      source:
        'const blocks = detect("block");\nfor (const b of blocks) { pick(b.id); place("green_bowl"); }\n',
      instruction: "put the blocks in the green bowl",
      programId: "sort",
      version: 1,
      keyId: "k1",
    },
    verifier: { ok: true, issues: [] },
    worldBefore: { objects, holding: null },
    worldAfter: { objects, holding: null },
    calls: Array.from({ length: 12 }, (_, seq) => ({
      seq,
      skill: seq % 2 ? "place" : "pick",
      args: ["red_block"],
      ok: true,
      startMs: seq * 10,
      durationMs: 10,
    })),
    checks: [],
    outcome: "succeeded",
    failure: null,
    resources: {
      wallMs: 120,
      skillCalls: 12,
      memoryLimitBytes: 67108864,
      timeoutMs: 60000,
    },
  };
}

/** Streams evidence through the outbox to a fresh local Mosquitto for `durationMs`. */
export async function benchEvidence(
  options: BenchEvidenceOptions = {},
): Promise<BenchEvidenceResult> {
  const durationMs = options.durationMs ?? 10_000;
  const backlog = options.backlog ?? 512;
  await using broker = await startMosquitto();
  const dir = await Deno.makeTempDir({ prefix: "cap-evidence-bench-" });
  try {
    using outbox = Outbox.open(join(dir, "outbox.sqlite"), {
      maxRecords: backlog * 4,
    });
    await using telemetry = new MqttTelemetry({
      url: broker.url,
      robotId: "bench-01",
      outbox,
      heartbeatMs: 60_000,
      status: () => ({ state: "running", currentRunId: null }),
    });
    telemetry.start();
    await telemetry.waitConnected(
      options.signal ? { signal: options.signal } : {},
    );
    const recordBytes = JSON.stringify(_record(0)).length;
    let appended = 0;
    const started = performance.now();
    const ackedAtStart = telemetry.stats().evidenceAcked;
    while (performance.now() - started < durationMs) {
      options.signal?.throwIfAborted();
      while (outbox.depth() < backlog) {
        telemetry.enqueueEvidence(_record(appended++));
        if (appended % 32 === 0) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const elapsed = performance.now() - started;
    const acked = telemetry.stats().evidenceAcked - ackedAtStart;
    return {
      evidencePerS: Math.round(acked / (elapsed / 1000)),
      acked,
      appended,
      durationMs: Math.round(elapsed),
      recordBytes,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchEvidence(), null, 2));
}
