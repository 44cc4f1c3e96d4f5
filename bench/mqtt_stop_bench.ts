/**
 * Emergency stop over MQTT: from publishing on `cmd/stop` (a separate MQTT
 * client, through a local Mosquitto) until the service halted the guest (the
 * run's `endedAt`, taken when the sandbox has stopped, millisecond
 * resolution), and until the `run_ended` event reached the caller (after the
 * evidence was written to the outbox and the local store). The guest spins
 * in `while (true) {}` after a first skill call.
 *
 * `deno run -A --unstable-worker-options bench/mqtt_stop_bench.ts` prints the
 * result as JSON.
 * @module
 */
import mqtt from "mqtt";
import { join } from "node:path";
import { type RunEvent } from "../runtime/executor/mod.ts";
import { parseServiceConfig, startEdgeNode } from "../runtime/mod.ts";
import { commandFor, makeKey, signed } from "../test/_edge_fixture.ts";
import { startMosquitto } from "../test/_mosquitto.ts";
import { summarize } from "./_summarize.ts";

/** Options of {@linkcode benchMqttStop}. */
export interface BenchMqttStopOptions {
  /** Stops measured. Default 30. */
  iterations?: number;
  /** Progress lines (never the figures); default: none. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** Result of {@linkcode benchMqttStop}, in milliseconds. */
export interface BenchMqttStopResult {
  /** `cmd/stop` published → guest halted (the run's `endedAt`): median. */
  mqttStopP50Ms: number;
  /** The same, 99th percentile. */
  mqttStopP99Ms: number;
  mqttStopMaxMs: number;
  /** `cmd/stop` published → `run_ended` delivered, evidence written: median. */
  mqttStopEvidenceP50Ms: number;
  /** The same, 99th percentile. */
  mqttStopEvidenceP99Ms: number;
  samples: number;
}

const _SPIN = 'say("go");\nwhile (true) {}';
/** How long the guest spins before the stop is published. */
const _SPIN_MS = 10;

/** Runs a spinning program `iterations` times and stops each run over MQTT. */
export async function benchMqttStop(
  options: BenchMqttStopOptions = {},
): Promise<BenchMqttStopResult> {
  const iterations = options.iterations ?? 30;
  const signal = options.signal;
  await using broker = await startMosquitto();
  const key = await makeKey();
  try {
    const config = parseServiceConfig({
      robotId: "bench-stop",
      stateDir: join(key.dir, "state"),
      grpc: { listen: "127.0.0.1:0" },
      trustStore: key.trustPath,
      backend: { kind: "sim" },
      mqtt: { url: broker.url, heartbeatMs: 60_000 },
    });
    await using node = await startEdgeNode(config);
    await node.telemetry!.waitConnected(signal ? { signal } : {});
    const { receipt } = await node.service.deliver(
      await signed(key, { programId: "spin", source: _SPIN }),
    );
    if (!receipt.accepted) {
      throw new Error(`Cannot bench the MQTT stop: ${receipt.message}`);
    }
    const operator = await mqtt.connectAsync(broker.url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    try {
      const topic = node.telemetry!.topics.cmdStop;
      const halted: number[] = [];
      const written: number[] = [];
      for (let i = 0; i < iterations; i++) {
        signal?.throwIfAborted();
        const said = Promise.withResolvers<void>();
        const ended = Promise.withResolvers<number>();
        const onEvent = (event: RunEvent) => {
          if (event.type === "skill_ended") said.resolve();
          if (event.type === "run_ended") ended.resolve(performance.now());
        };
        const run = node.service.run("spin", {
          command: await commandFor(key, "bench-stop", {
            command: "run",
            programId: "spin",
          }),
          onEvent,
        });
        run.catch((error) => {
          said.reject(error);
          ended.reject(error);
        });
        await said.promise;
        // Let the guest spin: an operator's stop does not race the skill's end.
        await new Promise((resolve) => setTimeout(resolve, _SPIN_MS));
        const startedWall = Date.now();
        const started = performance.now();
        operator.publish(topic, JSON.stringify({ reason: "bench" }), {
          qos: 1,
        });
        const endedAt = await ended.promise;
        const evidence = await run;
        if (evidence.failure?.label !== "estop") {
          throw new Error(
            `Cannot bench the MQTT stop: run ${i} ended ${evidence.outcome} (${evidence.failure?.label}), not estop`,
          );
        }
        halted.push(Date.parse(evidence.endedAt) - startedWall);
        written.push(endedAt - started);
        await node.service.resume({
          command: await commandFor(key, "bench-stop", { command: "resume" }),
        });
        if ((i + 1) % 10 === 0) {
          options.log?.(`${i + 1}/${iterations} stops`);
        }
      }
      const summary = summarize(halted);
      const evidence = summarize(written);
      return {
        mqttStopP50Ms: summary.median,
        mqttStopP99Ms: summary.p99,
        mqttStopMaxMs: summary.max,
        mqttStopEvidenceP50Ms: evidence.median,
        mqttStopEvidenceP99Ms: evidence.p99,
        samples: summary.n,
      };
    } finally {
      await operator.endAsync(true);
    }
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchMqttStop(), null, 2));
}
