import {
  parseScene,
  type Scene,
  SimBackend,
  type SkillBackend,
} from "../skills-bridge/mod.ts";
import { parseTrustStore, type TrustStore } from "../verifier/mod.ts";
import {
  type EdgeLog,
  EdgeService,
  openNodeState,
  openStateFile,
  StateDirLock,
} from "./service/mod.ts";
import {
  GatewayStartError,
  type GrpcGateway,
  startGrpcGateway,
} from "./grpc/mod.ts";
import { type GrpcEndpoint, MqttTelemetry } from "./telemetry/mod.ts";
import { Outbox } from "./telemetry/mod.ts";
import { ConfigError, type ServiceConfig } from "./service_config.ts";

/** The scene of the embedded default configuration (the design's example). */
export const DEFAULT_SCENE = {
  seed: 7,
  workspace: { xMin: -0.3, xMax: 0.3, yMin: -0.8, yMax: -0.2 },
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
  ],
};

/** A running edge node: service, gRPC server, optional MQTT telemetry, schedules. */
export interface EdgeNode extends AsyncDisposable {
  /** The edge service (the core's state: cache, executor, evidence). */
  readonly service: EdgeService;
  /** The gRPC gateway process (restarted by the core when it dies). */
  readonly grpc: GrpcGateway;
  /** MQTT telemetry, or `null` when the configuration has none. */
  readonly telemetry: MqttTelemetry | null;
  /**
   * Stops a running program safely (e-stop path), then closes everything.
   * With `exiting`, the gRPC connections are left for the process exit to
   * drop instead of a GOAWAY (Deno 2.9's HTTP/2 can abort a client process
   * that receives one on an idle connection).
   */
  close(options?: { exiting?: boolean }): Promise<void>;
  /**
   * Reads the trust store file again (SIGHUP): a revoked key takes effect at
   * once, also for cached programs. A file that cannot be used is logged and
   * the current trust store is kept.
   */
  reloadTrustStore(): Promise<boolean>;
}

/** Options of {@linkcode startEdgeNode}. */
export interface StartEdgeNodeOptions {
  /** Where the node tells what happens; default stderr. */
  log?: EdgeLog;
  /** Without a trust store file: start with an empty one (every delivery refused) instead of failing. */
  allowMissingTrustStore?: boolean;
  /** Aborting stops the start. */
  signal?: AbortSignal;
}

/**
 * Starts the edge service of `config`: opens the state, builds the backend,
 * connects telemetry, serves gRPC and arms the schedules.
 */
export async function startEdgeNode(
  config: ServiceConfig,
  options: StartEdgeNodeOptions = {},
): Promise<EdgeNode> {
  const log: EdgeLog = options.log ?? (() => {});
  await Deno.mkdir(config.stateDir, { recursive: true });
  const trustStore = await readTrustStore(
    config.trustStore,
    options.allowMissingTrustStore === true,
    log,
  );
  const stack = new AsyncDisposableStack();
  try {
    // The directory is this process's before anything in it is read: a
    // second core would take the first one's running program for one a
    // crash left, and record it twice.
    const lock = StateDirLock.take(config.stateDir);
    stack.defer(() => lock[Symbol.dispose]());
    // State: what cannot be used is set aside (renamed, logged, in the
    // heartbeat) and the service starts with a fresh one.
    const state = openNodeState(config.stateDir, {
      evidenceRetention: config.evidenceRetention,
      journalFlushMs: config.evidence.journalFlushMs,
      log,
    });
    stack.defer(() => state[Symbol.dispose]());
    const { cache } = state;
    const backend = await createBackend(config, options.signal);
    stack.defer(() => backend[Symbol.asyncDispose]());

    let telemetry: MqttTelemetry | null = null;
    let service: EdgeService | null = null;
    // Announced in the heartbeat once gRPC serves (a fleet console dials it).
    const announced: { grpc?: GrpcEndpoint } = {};
    if (config.mqtt) {
      const { outbox: outboxConfig, ...mqtt } = config.mqtt;
      const { value: outbox, setAside } = openStateFile(
        outboxConfig.path ?? `${config.stateDir}/outbox.sqlite`,
        (path) =>
          Outbox.open(path, {
            maxRecords: outboxConfig.maxRecords,
            ...(outboxConfig.maxBytes
              ? { maxBytes: outboxConfig.maxBytes }
              : {}),
            synchronous: outboxConfig.synchronous,
            syncIntervalMs: outboxConfig.syncIntervalMs,
          }),
        { what: "outbox", log },
      );
      if (setAside !== null) state.setAside.push(setAside);
      stack.defer(() => outbox.close());
      telemetry = new MqttTelemetry({
        ...mqtt,
        robotId: config.robotId,
        outbox,
        status: () => ({
          state: service?.state ?? "online",
          currentRunId: service?.currentRunId ?? null,
          health: state.health(),
          grpc: announced.grpc,
        }),
        onStop: (reason) => {
          service?.stop(`MQTT cmd/stop: ${reason}`).catch((error) =>
            log("error", `cannot stop: ${(error as Error).message}`)
          );
        },
        log: (level, message, data) => log(level, `mqtt: ${message}`, data),
      });
      stack.defer(() => telemetry!.close());
    }
    const activeTelemetry = telemetry;
    service = await EdgeService.create({
      robotId: config.robotId,
      backend,
      cache,
      trustStore,
      caps: config.caps,
      clockSkewMs: config.clockSkewMs,
      maxManifestLifetimeDays: config.limits.maxManifestLifetimeDays,
      replay: state.replay,
      journal: state.journal,
      evidenceMaxBytes: config.evidence.maxBytes,
      log,
      sink: activeTelemetry
        ? {
          evidence: (record) => {
            activeTelemetry.enqueueEvidence(record);
          },
          runEvent: (runId, event) =>
            activeTelemetry.publishRunEvent(runId, event),
          state: (state) => activeTelemetry.publishStatus(state),
        }
        : {},
    });
    const edge = service;
    stack.defer(() => edge[Symbol.asyncDispose]());
    if (backend.kind === "ros2" && "onEstop" in backend) {
      const subscription =
        (backend as SkillBackend & { onEstop(cb: () => void): Disposable })
          .onEstop(() => {
            edge.stop("ROS 2 e-stop topic").catch(() => {});
          });
      stack.defer(() => subscription[Symbol.dispose]());
    }
    if (backend.kind === "ros2" && "onFault" in backend) {
      // The bridge died or went silent: the run in progress ends stopped
      // with the reason (not latched); new runs wait until it is back.
      const subscription = (backend as SkillBackend & {
        onFault(cb: (fault: { reason: string }) => void): Disposable;
      }).onFault((fault) => {
        edge.interrupt(`the ROS 2 bridge is gone: ${fault.reason}`);
      });
      stack.defer(() => subscription[Symbol.dispose]());
    }
    telemetry?.start();

    const host = config.grpc.listen.slice(
      0,
      config.grpc.listen.lastIndexOf(":"),
    );
    if (!config.grpc.tls && !isLoopback(host)) {
      throw new ConfigError(
        `Cannot serve gRPC on "${config.grpc.listen}" (grpc.listen) without TLS: an address that is not loopback needs grpc.tls (cert and key, and clientCa for mutual TLS)`,
      );
    }
    if (config.grpc.tls) await readTls(config.grpc.tls);
    let grpc: GrpcGateway;
    try {
      grpc = await startGrpcGateway(service, {
        listen: config.grpc.listen,
        maxMessageBytes: config.grpc.maxMessageBytes,
        maxCallsInFlight: config.grpc.maxCallsInFlight,
        ...(config.grpc.tls ? { tls: config.grpc.tls } : {}),
        log,
      });
    } catch (error) {
      if (error instanceof GatewayStartError) {
        throw new ConfigError(
          error.reason === "address_in_use"
            ? `Cannot serve gRPC on "${config.grpc.listen}" (grpc.listen): the address is already in use`
            : `Cannot serve gRPC on "${config.grpc.listen}" (grpc.listen): ${error.message}`,
        );
      }
      throw error;
    }
    let exiting = false;
    stack.defer(() => exiting ? grpc.drain() : grpc.shutdown());
    announced.grpc = {
      address: advertisedAddress(config.grpc.advertise, grpc.address),
      tls: config.grpc.tls !== undefined,
      clientAuth: config.grpc.tls?.clientCa !== undefined,
    };
    if (announced.grpc.address === null && telemetry !== null) {
      log(
        "warn",
        `gRPC listens on every interface (${config.grpc.listen}) and grpc.advertise is not set: the heartbeat announces no address, so a fleet console cannot run, resume or repair this robot`,
      );
    }

    const timers: ReturnType<typeof setInterval>[] = [];
    const scheduled = (programId: string, why: string) => {
      if (edge.currentRunId !== null) {
        log(
          "warn",
          `skipped scheduled run of "${programId}" (${why}): another program is running`,
        );
        return;
      }
      // The robot's own configuration asks: no operator command needed.
      edge.run(programId, { origin: "schedule" }).catch((error) =>
        log(
          "warn",
          `scheduled run of "${programId}" (${why}) did not start: ${
            (error as Error).message
          }`,
        )
      );
    };
    for (const entry of config.schedule) {
      if (entry.atStart) {
        queueMicrotask(() => scheduled(entry.programId, "at start"));
      }
      if (entry.everySeconds) {
        timers.push(
          setInterval(
            () => scheduled(entry.programId, `every ${entry.everySeconds} s`),
            entry.everySeconds * 1000,
          ),
        );
      }
    }
    stack.defer(() => timers.forEach(clearInterval));

    let closing: Promise<void> | null = null;
    const close = (options: { exiting?: boolean } = {}) => {
      exiting ||= options.exiting === true;
      closing ??= (async () => {
        if (edge.currentRunId !== null) {
          log("warn", "shutting down: stopping the running program");
          await edge.stop("the service is shutting down");
        }
        await stack.disposeAsync();
      })();
      return closing;
    };
    const reloadTrustStore = async () => {
      try {
        edge.setTrustStore(await readTrustStore(config.trustStore, false, log));
        log("info", `reloaded the trust store "${config.trustStore}"`);
        return true;
      } catch (error) {
        log(
          "error",
          `kept the current trust store: ${(error as Error).message}`,
        );
        return false;
      }
    };
    return {
      service,
      grpc,
      telemetry,
      close,
      reloadTrustStore,
      [Symbol.asyncDispose]: () => close(),
    };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

async function readTrustStore(
  path: string,
  allowMissing: boolean,
  log: EdgeLog,
): Promise<TrustStore> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && allowMissing) {
      log(
        "warn",
        `no trust store at "${path}": every delivery will be refused (create one with "deno task cap keygen --out <dir>")`,
      );
      return parseTrustStore({ keys: [] });
    }
    throw new ConfigError(
      `Cannot read the trust store "${path}": ${(error as Error).message}`,
    );
  }
  try {
    return parseTrustStore(JSON.parse(text));
  } catch (error) {
    throw new ConfigError(
      `Cannot use the trust store "${path}": ${(error as Error).message}`,
    );
  }
}

async function createBackend(
  config: ServiceConfig,
  signal?: AbortSignal,
): Promise<SkillBackend> {
  if (config.backend.kind === "sim") {
    let scene: Scene;
    if (config.backend.world) {
      const { loadScene } = await import("../skills-bridge/mod.ts");
      scene = await loadScene(config.backend.world, signal ? { signal } : {});
    } else {
      scene = parseScene(DEFAULT_SCENE, { source: "embedded default scene" });
    }
    return new SimBackend(scene, { timeScale: config.backend.timeScale });
  }
  const { parseRos2Config, Ros2Backend } = await import(
    "../skills-bridge/mod.ts"
  );
  return await Ros2Backend.create(
    parseRos2Config(config.backend.ros2),
    signal ? { signal } : {},
  );
}

async function readTls(
  tls: { cert: string; key: string; clientCa?: string | undefined },
) {
  const read = async (path: string, what: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new ConfigError(
        `Cannot read the gRPC TLS ${what} "${path}": ${
          (error as Error).message
        }`,
      );
    }
  };
  return {
    cert: await read(tls.cert, "certificate"),
    key: await read(tls.key, "key"),
    ...(tls.clientCa
      ? { clientCa: await read(tls.clientCa, "client CA") }
      : {}),
  };
}

/**
 * The address clients dial: `advertise` when set, else the bound address
 * unless it is every interface (which names no host to dial).
 */
function advertisedAddress(
  advertise: string | undefined,
  bound: string,
): string | null {
  if (advertise !== undefined) return advertise;
  const host = bound.slice(0, bound.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  return host === "0.0.0.0" || host === "::" || host === "" ? null : bound;
}

/** Whether `host` (a name or an address, IPv6 in brackets or not) is this machine only. */
function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
