import {
  ChannelProtocolError,
  forEachLine,
  HELPER_V8_FLAGS,
  helperProgram,
  LineChannel,
} from "../channel/mod.ts";
import type { RunEvent } from "../executor/mod.ts";
import {
  FromGateway,
  GATEWAY_PROTOCOL,
  type GatewayCall,
  type GatewayConfig,
  type ToGateway,
} from "./_gateway_protocol.ts";
import { PROTOS_DIR } from "./_protos.ts";
import { type EdgeApi, statusOf } from "./edge_api.ts";

/** Options of {@linkcode startGrpcGateway}. */
export interface GrpcGatewayOptions {
  /** `host:port`; port 0 picks a free one (kept across restarts). */
  listen: string;
  /** TLS files (paths) the gateway reads itself. */
  tls?: { cert: string; key: string; clientCa?: string | undefined };
  /** Largest request accepted, bytes; default 2 MiB. */
  maxMessageBytes?: number;
  /** Calls forwarded to the core at once, Stop aside (see the gateway); default 256. */
  maxCallsInFlight?: number;
  /** Where the gateway's own lines and its restarts are told. */
  log?: (
    level: "info" | "warn" | "error",
    message: string,
    data?: Record<string, unknown>,
  ) => void;
}

/** The running gateway seen from the core. */
export interface GrpcGateway extends AsyncDisposable {
  /** The bound port. */
  readonly port: number;
  /** `host:port` as bound. */
  readonly address: string;
  /** How often the gateway process died and was started again. */
  readonly restarts: number;
  /** The current gateway process's id. */
  readonly pid: number;
  /** Resolves once a gateway is serving again (after a restart). */
  serving(): Promise<void>;
  /** Closes the gateway's stdin (it exits, dropping its connections); kills it if it lingers. */
  shutdown(): Promise<void>;
  /** Same as {@linkcode shutdown}: the process exit drops connections without a GOAWAY. */
  drain(): Promise<void>;
}

/** Why the gateway could not start the first time. */
export class GatewayStartError extends Error {
  /** What kind of failure it was. */
  readonly reason: string;
  /** Creates the error. */
  constructor(reason: string, message: string) {
    super(message);
    this.name = "GatewayStartError";
    this.reason = reason;
  }
}

const GATEWAY_MAIN = new URL("./gateway_main.ts", import.meta.url);
const DENO_JSON = new URL("../../deno.json", import.meta.url);
/**
 * The folder of `@grpc/reflection`'s own `.proto` files: it reads them when
 * the gateway's server starts, so the gateway may read them (and nothing
 * else of the package cache).
 */
const REFLECTION_PROTOS = decodeURIComponent(
  new URL("../proto/", import.meta.resolve("@grpc/reflection")).pathname,
).replace(/\/$/, "");
/** The environment variables grpc-js reads when it loads. */
const GRPC_ENV = [
  "GRPC_NODE_VERBOSITY",
  "GRPC_VERBOSITY",
  "GRPC_NODE_TRACE",
  "GRPC_TRACE",
  "GRPC_SSL_CIPHER_SUITES",
  "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
  "GRPC_NODE_USE_ALTERNATIVE_RESOLVER",
  "GRPC_NODE_DEBUG_SEND_ERROR_DETAILS",
  "GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION",
];
const KEPT_ENV = ["DENO_DIR", "HOME", "XDG_CACHE_HOME", "NO_COLOR"];
const RESTART_MIN_MS = 50;
/** How often the core asks the gateway whether it still turns, ms. */
const PING_EVERY_MS = 1000;
/**
 * A gateway that answered no ping for this long is frozen (stopped, or
 * spinning in nghttp2) and is replaced: while it holds the port, no Stop
 * reaches the robot over gRPC. Far above the longest turn a legitimate
 * call takes it (a 64 MiB request, about a second).
 */
const UNRESPONSIVE_MS = 5000;
const RESTART_MAX_MS = 1000;
/**
 * Restarts after one that could not serve (its port taken, its TLS files
 * unreadable) back off to this: each costs a process start, and the cause
 * outlasts a second.
 */
const FATAL_RESTART_MAX_MS = 30_000;

/**
 * Serves `cap.v1.EdgeRuntime` from a gateway process: grpc-js runs there,
 * every call is forwarded to `api` here. If the gateway dies, it is logged,
 * counted and started again within a second on the same port; a run in
 * progress carries on untouched, and calls that were in flight fail on the
 * client with `UNAVAILABLE`.
 *
 * @example
 * ```ts ignore
 * await using gateway = await startGrpcGateway(service, { listen: "127.0.0.1:0" });
 * ```
 */
export async function startGrpcGateway(
  api: EdgeApi,
  options: GrpcGatewayOptions,
): Promise<GrpcGateway> {
  const log = options.log ?? (() => {});
  const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
  let port = 0;
  let restarts = 0;
  let closing = false;
  let current: Deno.ChildProcess | null = null;
  let channel: LineChannel<FromGateway, ToGateway> | null = null;
  let servingNow = Promise.withResolvers<void>();
  let restartTimer: ReturnType<typeof setTimeout> | undefined;
  let delay = RESTART_MIN_MS;

  const spawn = (listen: string) => {
    const config: GatewayConfig = {
      robotId: api.robotId,
      listen,
      maxMessageBytes: options.maxMessageBytes ?? 2 * 1024 * 1024,
      maxCallsInFlight: options.maxCallsInFlight ?? 256,
      ...(options.tls ? { tls: options.tls } : {}),
    };
    const reads = [
      PROTOS_DIR.replace(/\/$/, ""),
      REFLECTION_PROTOS,
      ...(options.tls
        ? [options.tls.cert, options.tls.key, options.tls.clientCa].filter(
          (p): p is string => p !== undefined,
        )
        : []),
    ];
    // grpc-js's own error lines ("No address added …") only repeat what the
    // gateway reports in its messages; GRPC_VERBOSITY turns them back on.
    const env: Record<string, string> = {
      DENO_NO_UPDATE_CHECK: "1",
      GRPC_VERBOSITY: "NONE",
    };
    for (const name of [...KEPT_ENV, ...GRPC_ENV]) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    const netHost = host.replace(/^\[|\]$/g, "");
    const child = new Deno.Command(helperProgram("the gRPC gateway"), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        HELPER_V8_FLAGS,
        `--config=${DENO_JSON.pathname}`,
        `--allow-net=${listen.endsWith(":0") ? netHost : listen}`,
        `--allow-read=${reads.join(",")}`,
        `--allow-env=${GRPC_ENV.join(",")}`,
        GATEWAY_MAIN.pathname,
        JSON.stringify(config),
      ],
      clearEnv: true,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = new LineChannel<FromGateway, ToGateway>(
      child.stdout,
      child.stdin,
      {
        name: `gRPC gateway ${child.pid}`,
        schema: FromGateway,
        maxLineBytes: callLineBytes(config.maxMessageBytes),
      },
    );
    void lines.send({ type: "hello", protocol: GATEWAY_PROTOCOL });
    void forEachLine(
      child.stderr,
      (line) => log("warn", `gRPC gateway ${child.pid}: ${line}`),
    );
    return { child, lines };
  };

  const first = Promise.withResolvers<void>();
  const run = (listen: string) => {
    const { child, lines } = spawn(listen);
    current = child;
    channel = lines;
    let listening = false;
    let fatal = false;
    let pinged = 0;
    let answeredAt = performance.now();
    const liveness = setInterval(() => {
      if (!listening) return;
      if (performance.now() - answeredAt > UNRESPONSIVE_MS) {
        clearInterval(liveness);
        log(
          "error",
          `the gRPC gateway (pid ${child.pid}) answered nothing for ${UNRESPONSIVE_MS} ms; ending it`,
          { gatewayPid: child.pid },
        );
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        return;
      }
      pinged += 1;
      void lines.send({ type: "ping", seq: pinged });
    }, PING_EVERY_MS);
    const pumped = (async () => {
      try {
        for await (const message of lines) {
          switch (message.type) {
            case "hello":
              if (message.protocol !== GATEWAY_PROTOCOL) {
                throw new Error(`it speaks "${message.protocol}"`);
              }
              break;
            case "listening":
              listening = true;
              answeredAt = performance.now();
              port = message.port;
              log(
                "info",
                `gRPC gateway (pid ${child.pid}) listening on ${message.address}`,
                { gatewayPid: child.pid, gatewayRestarts: restarts },
              );
              delay = RESTART_MIN_MS;
              servingNow.resolve();
              first.resolve();
              break;
            case "fatal":
              fatal = true;
              if (port === 0) {
                // The first start: the caller says what went wrong, once.
                first.reject(
                  new GatewayStartError(message.reason, message.message),
                );
              } else log("error", `gRPC gateway: ${message.message}`);
              break;
            case "log":
              log(message.level, message.message);
              break;
            case "pong":
              answeredAt = performance.now();
              break;
            case "call":
              void dispatch(lines, message.id, message.call);
              break;
          }
        }
      } catch (error) {
        log(
          "error",
          `gRPC gateway ${child.pid} broke the protocol: ${
            (error as Error).message
          }; ending it`,
        );
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }
    })();
    // What the gateway said before it went (a fatal's reason) is read first.
    Promise.all([child.status, pumped]).then(([status]) => {
      clearInterval(liveness);
      if (channel === lines) channel = null;
      if (closing) return;
      if (!listening && port === 0) {
        first.reject(
          new GatewayStartError(
            "other",
            `Cannot start the gRPC gateway: it exited with ${
              status.signal ?? status.code
            }`,
          ),
        );
        return;
      }
      restarts += 1;
      servingNow = Promise.withResolvers<void>();
      log(
        "error",
        `the gRPC gateway (pid ${child.pid}) exited with ${
          status.signal ? `signal ${status.signal}` : `code ${status.code}`
        }; starting it again in ${delay} ms`,
        { gatewayRestarts: restarts },
      );
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        if (!closing) run(`${host}:${port}`);
      }, delay);
      delay = fatal
        ? Math.min(FATAL_RESTART_MAX_MS, Math.max(RESTART_MAX_MS, delay * 2))
        : Math.min(RESTART_MAX_MS, delay * 2);
    });
  };

  const dispatching = new Set<Promise<void>>();
  const dispatch = (
    lines: LineChannel<FromGateway, ToGateway>,
    id: number,
    call: GatewayCall,
  ) => {
    const job = answer(lines, id, call);
    dispatching.add(job);
    job.finally(() => dispatching.delete(job));
    return job;
  };
  const answer = async (
    lines: LineChannel<FromGateway, ToGateway>,
    id: number,
    call: GatewayCall,
  ) => {
    try {
      const value = await serveCall(api, call, (event) =>
        void lines.send({
          type: "event",
          id,
          event: event as unknown as Record<string, unknown>,
        }));
      await lines.send({ type: "reply", id, ok: true, value });
    } catch (error) {
      await lines.send({
        type: "reply",
        id,
        ok: false,
        status: statusOf(error),
        message: error instanceof Error ? error.message : String(error),
      });
    }
  };

  run(options.listen);
  try {
    await first.promise;
  } catch (error) {
    closing = true;
    const child = current as Deno.ChildProcess | null;
    try {
      child?.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child?.status;
    throw error;
  }

  let shut: Promise<void> | null = null;
  const shutdown = () => {
    shut ??= (async () => {
      closing = true;
      clearTimeout(restartTimer);
      const child = current;
      if (child === null) return;
      // Calls in progress (a run the shutdown just stopped) get their answer
      // out before the gateway goes.
      let wait: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...dispatching]),
        new Promise((resolve) => wait = setTimeout(resolve, 3000)),
      ]);
      clearTimeout(wait);
      await channel?.close();
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 1000);
      await child.status;
      clearTimeout(timer);
    })();
    return shut;
  };
  return {
    get port() {
      return port;
    },
    get address() {
      return `${host}:${port}`;
    },
    get restarts() {
      return restarts;
    },
    get pid() {
      return current?.pid ?? 0;
    },
    serving: () => servingNow.promise,
    shutdown,
    drain: shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * The longest line the gateway may send: a call carries its request's
 * bytes as base64 (4 characters for 3 bytes), and at most 96 KiB of other
 * fields as JSON (the gateway refuses more, and cuts a stop's reason), so
 * a call the gateway forwards always fits; never less than 64 MiB.
 */
function callLineBytes(maxMessageBytes: number): number {
  return Math.max(
    64 * 1024 * 1024,
    Math.ceil(maxMessageBytes / 3) * 4 + 128 * 1024,
  );
}

function bytes(
  base64: string | undefined,
  field: string,
): Uint8Array | undefined {
  if (base64 === undefined) return undefined;
  try {
    // One pass, no copy: a 90 KB envelope in a few microseconds. Missing
    // padding is accepted; a character outside the alphabet is not.
    return Uint8Array.fromBase64(base64);
  } catch {
    throw new ChannelProtocolError(
      "the gRPC gateway",
      `its ${field} is not base64`,
    );
  }
}

function serveCall(
  api: EdgeApi,
  call: GatewayCall,
  onEvent: (event: RunEvent) => void,
): Promise<unknown> {
  switch (call.method) {
    case "deliver": {
      const command = bytes(call.command, "command");
      return api.deliver(bytes(call.envelope, "envelope")!, {
        run: call.run,
        ...(command ? { command } : {}),
        onEvent,
      });
    }
    case "validate":
      return api.validate(bytes(call.envelope, "envelope")!);
    case "run": {
      const command = bytes(call.command, "command");
      return api.run(call.programId, {
        ...(call.version !== undefined ? { version: call.version } : {}),
        ...(command ? { command } : {}),
        onEvent,
      });
    }
    case "stop":
      return api.stop(call.reason);
    case "resume": {
      const command = bytes(call.command, "command");
      return Promise.resolve(api.resume(command ? { command } : {}));
    }
    case "list":
      return Promise.resolve(api.list());
    case "listRuns": {
      const filter = Object.fromEntries(
        Object.entries(call.filter).filter(([, v]) => v !== undefined),
      );
      return Promise.resolve(api.listRuns(filter));
    }
    case "getEvidence":
      // undefined does not survive JSON: null says "not stored".
      return Promise.resolve(api.getEvidence(call.runId)).then((r) =>
        r ?? null
      );
    case "getWorld":
      return api.getWorld();
  }
}
