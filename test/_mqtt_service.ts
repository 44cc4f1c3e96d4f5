/**
 * Test helper: a real service process (`runtime/main.ts`) on a state dir,
 * a real Mosquitto and a probe on the robot's topics.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import type { EdgeClient, EdgeClientOptions } from "../runtime/grpc/mod.ts";
import { clientFor, makeKey, type TestKey } from "./_edge_fixture.ts";
import {
  freePort,
  type Mosquitto,
  startMosquitto,
  type StartMosquittoOptions,
} from "./_mosquitto.ts";
import { connectProbe, type Probe, type ProbeMessage } from "./_mqtt_probe.ts";

const _REPO = fileURLToPath(new URL("..", import.meta.url));
/** The topic prefix of robot `arm-01`. */
export const PREFIX = "cap/v1/robots/arm-01";

/** A service process and the JSON log lines it wrote on stderr. */
export interface ServiceProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[];
  readonly address: string;
  /** A gRPC client of it that signs operator commands (robot `arm-01`) with the test key. */
  client(options?: EdgeClientOptions): EdgeClient;
  /** SIGKILL, then waits for the exit and the end of its stderr. */
  kill9(): Promise<void>;
  /** SIGTERM (a clean shutdown), then waits like {@linkcode kill9}. */
  terminate(): Promise<Deno.CommandStatus>;
}

/** Writes the service configuration for `stateDir` and `broker`. */
async function _writeConfig(
  key: TestKey,
  stateDir: string,
  broker: Mosquitto,
  port: number,
  mqtt: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const path = join(key.dir, `config-${port}.json`);
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      robotId: "arm-01",
      stateDir,
      grpc: { listen: `127.0.0.1:${port}` },
      trustStore: key.trustPath,
      backend: { kind: "sim" },
      mqtt: {
        url: broker.url,
        heartbeatMs: 1_000,
        reconnectMinMs: 100,
        reconnectMaxMs: 400,
        ...mqtt,
      },
      caps: {
        timeoutMs: 30_000,
        memoryBytes: 32 * 1024 * 1024,
        maxSkillCalls: 1000,
      },
      ...extra,
    }),
  );
  return path;
}

/** Starts `runtime/main.ts` on `stateDir` and waits for "serving gRPC". */
export async function spawnService(
  key: TestKey,
  stateDir: string,
  broker: Mosquitto,
  mqtt: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<ServiceProcess> {
  const port = freePort();
  const configPath = await _writeConfig(
    key,
    stateDir,
    broker,
    port,
    mqtt,
    extra,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-worker-options",
      `--allow-run=${Deno.execPath()}`,
      "--allow-read",
      "--allow-write",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-sys",
      "runtime/main.ts",
      "--config",
      configPath,
    ],
    cwd: _REPO,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const reading = (async () => {
    let rest = "";
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      for (const listener of listeners) listener();
    }
    if (rest !== "") lines.push(rest);
    for (const listener of listeners) listener();
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    for (const listener of listeners) listener();
    return s;
  });
  const finish = async (signal: Deno.Signal) => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
    const s = await status;
    await reading;
    return s;
  };
  const service: ServiceProcess = {
    child,
    lines,
    address: `127.0.0.1:${port}`,
    client: (options = {}) =>
      clientFor(`127.0.0.1:${port}`, key, "arm-01", options),
    kill9: async () => {
      await finish("SIGKILL");
    },
    terminate: () => finish("SIGTERM"),
    [Symbol.asyncDispose]: async () => {
      await finish("SIGKILL");
    },
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error('no "serving gRPC" line after 20 s')),
        20_000,
      );
      const check = () => {
        if (lines.some((l) => l.includes("serving gRPC"))) done();
        else if (exited) done(new Error("the service exited"));
      };
      const done = (error?: Error) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error === undefined) resolve();
        else {
          reject(
            new Error(
              `Cannot start the service on ${stateDir}: ${error.message}; stderr:\n${
                lines.join("\n")
              }`,
            ),
          );
        }
      };
      listeners.add(check);
      check();
    });
  } catch (error) {
    await service[Symbol.asyncDispose]();
    throw error;
  }
  return service;
}

/** Run ids of the evidence records received so far. */
export function evidenceIds(messages: ProbeMessage[]): Set<string> {
  return new Set(
    messages.filter((m) => m.topic === `${PREFIX}/evidence`).map((m) =>
      (JSON.parse(m.text) as EvidenceRecord).runId
    ),
  );
}

export function statuses(messages: ProbeMessage[]): string[] {
  return messages.filter((m) => m.topic === `${PREFIX}/status`).map((m) =>
    m.text
  );
}

/** Waits until every id of `runIds` arrived as evidence; none other may. */
export async function assertEvidence(
  probe: Probe,
  runIds: readonly string[],
  what: string,
): Promise<void> {
  await probe.waitFor(
    (m) => {
      const got = evidenceIds(m);
      return runIds.every((id) => got.has(id));
    },
    `${runIds.length} evidence records ${what} (missing: ${
      runIds.filter((id) => !evidenceIds(probe.messages).has(id)).length
    } at the start of the wait)`,
    20_000,
  ).catch((error) => {
    const got = evidenceIds(probe.messages);
    const missing = runIds.filter((id) => !got.has(id));
    throw new Error(
      `${(error as Error).message}; still missing ${missing.length}: ${
        missing.slice(0, 5).join(", ")
      }`,
    );
  });
}

/** A broker, a persistent probe on the robot's topics, a key and a state dir. */
export async function setup(options: StartMosquittoOptions = {}) {
  const key = await makeKey();
  const broker = await startMosquitto(options);
  const probe = await connectProbe(broker.url, {
    subscribe: [`${PREFIX}/#`],
    persistentId: `probe-${crypto.randomUUID()}`,
  });
  return {
    key,
    broker,
    probe,
    stateDir: join(key.dir, "state"),
    async [Symbol.asyncDispose]() {
      await probe[Symbol.asyncDispose]();
      await broker[Symbol.asyncDispose]();
      await Deno.remove(key.dir, { recursive: true });
    },
  };
}

/** Waits until a log line of `service` matches. */
export async function waitForLine(
  service: ServiceProcess,
  match: (line: string) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!service.lines.some(match)) {
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}; log:\n${
          service.lines.join("\n")
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
