/**
 * Evidence throughput end to end, side by side with its ceiling in the same
 * run and against the same local Mosquitto:
 *
 * - ours: records appended to the durable outbox (`synchronous: "normal"`:
 *   in the WAL when the append returns), published with QoS 1 by
 *   `MqttTelemetry`, acknowledged, and deleted from the outbox;
 * - the ceiling: a bare mqtt.js client publishing the same payloads with
 *   QoS 1 and as many unacknowledged at once as ours may have queued.
 *
 * Rounds alternate between the two; each reports records/s (acknowledged,
 * and for ours deleted) and the latency from append (or publish) to ack.
 * The figures are the medians over rounds and the p99 of the latencies, and
 * ours over the ceiling as ratios.
 *
 * `deno run -A bench/evidence_bench.ts` prints the result as JSON.
 * @module
 */
import mqtt from "mqtt";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { MqttTelemetry, Outbox } from "../runtime/telemetry/mod.ts";
import { startMosquitto } from "../test/_mosquitto.ts";

/** Options of {@linkcode benchEvidence}. */
export interface BenchEvidenceOptions {
  /** Total time of the measured rounds (both sides). Default 10000 ms. */
  durationMs?: number;
  /** Rounds per side. Default 5. */
  rounds?: number;
  /** Records allowed to wait (outbox depth; unacked for the ceiling) before the producer pauses. Default 1024. */
  backlog?: number;
  /** Ours: evidence messages in flight at once. Default 256. */
  maxInFlight?: number;
  /** Records appended per outbox transaction. Default 64. */
  batch?: number;
  signal?: AbortSignal;
}

/** Result of {@linkcode benchEvidence}. */
export interface BenchEvidenceResult {
  /** Ours: records appended, published, acknowledged and deleted per second (median of rounds). */
  evidencePerS: number;
  /** The bare mqtt.js QoS 1 publisher, per second (median of rounds). */
  ceilingPerS: number;
  /** `evidencePerS / ceilingPerS`. */
  ratio: number;
  /** Ours: append → ack+delete latency, median and p99, ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Ceiling: publish → ack latency, median and p99, ms. */
  ceilingLatencyP50Ms: number;
  ceilingLatencyP99Ms: number;
  /** `latencyP99Ms / ceilingLatencyP99Ms`. */
  latencyP99Ratio: number;
  /** Records/s of each round, ours and the ceiling. */
  roundsPerS: { ours: number[]; ceiling: number[] };
  acked: number;
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

/** Streams evidence both ways against a fresh local Mosquitto. */
export async function benchEvidence(
  options: BenchEvidenceOptions = {},
): Promise<BenchEvidenceResult> {
  const durationMs = options.durationMs ?? 10_000;
  const rounds = options.rounds ?? 5;
  const backlog = options.backlog ?? 1024;
  const batch = options.batch ?? 64;
  const roundMs = Math.max(100, Math.round(durationMs / (2 * rounds)));
  await using broker = await startMosquitto();
  const dir = await Deno.makeTempDir({ prefix: "cap-evidence-bench-" });
  try {
    using outbox = Outbox.open(join(dir, "outbox.sqlite"), {
      maxRecords: backlog * 4,
    });
    const appendedAt = new Map<number, number>();
    const oursLatency: number[] = [];
    let oursAcked = 0;
    await using telemetry = new MqttTelemetry({
      url: broker.url,
      robotId: "bench-01",
      outbox,
      heartbeatMs: 60_000,
      maxInFlight: options.maxInFlight ?? 256,
      status: () => ({ state: "running", currentRunId: null }),
      onAcked: (ids) => {
        const now = performance.now();
        for (const id of ids) {
          const at = appendedAt.get(id);
          if (at === undefined) continue;
          appendedAt.delete(id);
          oursLatency.push(now - at);
          oursAcked++;
        }
      },
    });
    telemetry.start();
    await telemetry.waitConnected(
      options.signal ? { signal: options.signal } : {},
    );
    const bare = await mqtt.connectAsync(broker.url, {
      protocolVersion: 5,
      clientId: "bench-ceiling",
      clean: true,
    });
    (bare.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    const topic = "cap/v1/robots/bench-ceiling/evidence";
    const recordBytes = JSON.stringify(_record(0)).length;
    let next = 0;
    const ours = async (): Promise<number> => {
      const ackedAtStart = oursAcked;
      const started = performance.now();
      while (performance.now() - started < roundMs) {
        options.signal?.throwIfAborted();
        if (outbox.depth() < backlog) {
          const records = Array.from({ length: batch }, () => _record(next++));
          const { ids } = telemetry.enqueueEvidenceMany(records);
          const now = performance.now();
          for (const id of ids) appendedAt.set(id, now);
        }
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      const elapsed = performance.now() - started;
      const perS = ((oursAcked - ackedAtStart) / elapsed) * 1000;
      await telemetry.waitDrained({ timeoutMs: 60_000 });
      return perS;
    };
    const ceilingLatency: number[] = [];
    const ceiling = async (): Promise<number> => {
      let acked = 0;
      let outstanding = 0;
      let stopAt = Infinity;
      const drained = Promise.withResolvers<void>();
      const started = performance.now();
      const publish = () => {
        while (outstanding < backlog && performance.now() < stopAt) {
          outstanding++;
          const at = performance.now();
          const payload = Buffer.from(JSON.stringify(_record(next++)));
          bare.publish(topic, payload, { qos: 1 }, (error) => {
            outstanding--;
            if (!error) {
              acked++;
              ceilingLatency.push(performance.now() - at);
            }
            if (performance.now() < stopAt) publish();
            else if (outstanding === 0) drained.resolve();
          });
        }
      };
      stopAt = started + roundMs;
      publish();
      await drained.promise;
      // Counted like ours: what was acknowledged within the round.
      return (acked / (performance.now() - started)) * 1000;
    };
    // Warm both paths up (JIT, SQLite pages, TCP windows).
    await ceiling();
    await ours();
    oursLatency.length = 0;
    ceilingLatency.length = 0;
    const oursAckedBefore = oursAcked;
    const perRound = { ours: [] as number[], ceiling: [] as number[] };
    const started = performance.now();
    for (let round = 0; round < rounds; round++) {
      perRound.ceiling.push(Math.round(await ceiling()));
      perRound.ours.push(Math.round(await ours()));
    }
    const elapsed = performance.now() - started;
    await bare.endAsync();
    const evidencePerS = _median(perRound.ours);
    const ceilingPerS = _median(perRound.ceiling);
    const p99 = _quantile(oursLatency, 0.99);
    const ceilingP99 = _quantile(ceilingLatency, 0.99);
    return {
      evidencePerS,
      ceilingPerS,
      ratio: _round(evidencePerS / ceilingPerS),
      latencyP50Ms: _round(_quantile(oursLatency, 0.5)),
      latencyP99Ms: _round(p99),
      ceilingLatencyP50Ms: _round(_quantile(ceilingLatency, 0.5)),
      ceilingLatencyP99Ms: _round(ceilingP99),
      latencyP99Ratio: _round(p99 / ceilingP99),
      roundsPerS: perRound,
      acked: oursAcked - oursAckedBefore,
      durationMs: Math.round(elapsed),
      recordBytes,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function _median(values: number[]): number {
  return Math.round(_quantile(values, 0.5));
}

function _quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function _round(value: number): number {
  return Math.round(value * 100) / 100;
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchEvidence(), null, 2));
}
