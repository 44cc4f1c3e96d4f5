/**
 * The gRPC gateway: the process that holds the grpc-js server, so that
 * HTTP/2 is parsed outside the core. Deno's `node:http2` can abort its
 * process on an ordinary client disconnect (denoland/deno#36788); here that
 * ends only this process, which the core restarts. Every call is forwarded
 * to the core over stdin/stdout (see `_gateway_protocol.ts`); the gateway
 * keeps no state. It exits when its stdin closes.
 *
 * Usage (by the core): `deno run --allow-net=<listen> --allow-read=<protos,
 * TLS files> --allow-env=GRPC_… gateway_main.ts '<config JSON>'`.
 * @module
 */
import { Buffer } from "node:buffer";
import { LineChannel } from "../channel/mod.ts";
import { cutText } from "../evidence/mod.ts";
import type { EvidenceRecord } from "../evidence/mod.ts";
import type { RunEvent } from "../executor/mod.ts";
import type { WorldState } from "../../skills-bridge/mod.ts";
import type {
  CachedProgram,
  Receipt,
  RunFilter,
  RunPage,
} from "../service/mod.ts";
import {
  type FromGateway,
  GATEWAY_PROTOCOL,
  type GatewayCall,
  GatewayConfig,
  ToGateway,
} from "./_gateway_protocol.ts";
import { type EdgeApi, EdgeApiError } from "./edge_api.ts";
import { startGrpcServer } from "./grpc_server.ts";

const channel = new LineChannel<ToGateway, FromGateway>(
  Deno.stdin,
  Deno.stdout,
  { name: "the core", schema: ToGateway, maxLineBytes: 64 * 1024 * 1024 },
);
const send = (message: FromGateway) => void channel.send(message);

/**
 * Tells the core why this gateway cannot serve, and ends it: a gateway
 * that does not serve must not linger (the core starts another, with
 * backoff, until one binds its address again).
 */
async function giveUp(
  message: Extract<FromGateway, { type: "fatal" }>,
): Promise<never> {
  try {
    await channel.send(message);
  } catch {
    // The core is gone.
  }
  Deno.exit(1);
}
send({ type: "hello", protocol: GATEWAY_PROTOCOL, pid: Deno.pid });

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onEvent?: (event: RunEvent) => void;
}
const pending = new Map<number, Pending>();
let nextId = 0;

/**
 * What this gateway has in progress at the core, Stop aside (a stop is
 * always forwarded): at most `maxCallsInFlight` calls (from its
 * configuration), and {@linkcode MAX_BYTES_IN_FLIGHT} of their bytes but
 * for a call that comes alone. Beyond that a call gets `UNAVAILABLE` at
 * once: a flood of large requests cannot pile up in the core's memory
 * (1000 concurrent 2 MB Validates took it to 2.5 GB), nor its garbage
 * collector's pauses grow with it.
 */
const inFlight = { calls: 0, bytes: 0, maxCalls: Infinity };
/** The bytes (as base64) of the calls in progress, at most, unless one comes alone. */
const MAX_BYTES_IN_FLIGHT = 64 * 1024 * 1024;
/**
 * A call's fields but its bytes, as JSON, at most, characters (up to 3
 * bytes each in UTF-8: the core's line allows 128 KiB for them).
 */
const MAX_TEXT_CHARS = 32 * 1024;
/** As the core keeps a stop reason. */
const MAX_STOP_REASON_CHARS = 500;

function forward(
  call: GatewayCall,
  onEvent?: (event: RunEvent) => void,
): Promise<unknown> {
  if (!channel.open) {
    return Promise.reject(
      new EdgeApiError("unavailable", "Cannot reach the robot's core"),
    );
  }
  // A stop always goes through, its reason cut as the core cuts it. Any
  // other call's text (ids, filters) has a bound, so that its line, JSON
  // escapes and all, stays within what the core reads.
  if (call.method === "stop") {
    call = { ...call, reason: cutText(call.reason, MAX_STOP_REASON_CHARS) };
  } else {
    const { envelope: _envelope, command: _command, ...text } = call as {
      envelope?: string;
      command?: string;
    };
    const chars = JSON.stringify(text).length;
    if (chars > MAX_TEXT_CHARS) {
      return Promise.reject(
        new EdgeApiError(
          "invalid_argument",
          `Cannot take the call: its text fields take ${chars} characters as JSON, at most ${MAX_TEXT_CHARS}`,
        ),
      );
    }
  }
  const counted = call.method !== "stop";
  const bytes = "envelope" in call ? call.envelope.length : 0;
  if (
    counted &&
    (inFlight.calls >= inFlight.maxCalls ||
      (inFlight.calls > 0 && inFlight.bytes + bytes > MAX_BYTES_IN_FLIGHT))
  ) {
    return Promise.reject(
      new EdgeApiError(
        "unavailable",
        `Cannot take the call: the robot has ${inFlight.calls} calls in progress (${inFlight.bytes} bytes; at most ${inFlight.maxCalls} calls, ${MAX_BYTES_IN_FLIGHT} bytes); try again`,
      ),
    );
  }
  if (counted) {
    inFlight.calls += 1;
    inFlight.bytes += bytes;
  }
  const id = nextId++;
  const { promise, resolve, reject } = Promise.withResolvers<unknown>();
  pending.set(id, { resolve, reject, ...(onEvent ? { onEvent } : {}) });
  send({ type: "call", id, peer: "", call });
  return counted
    ? promise.finally(() => {
      inFlight.calls -= 1;
      inFlight.bytes -= bytes;
    })
    : promise;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const withCommand = (command?: Uint8Array) =>
  command && command.length > 0 ? { command: b64(command) } : {};

/** The core, seen through the channel. */
const core: EdgeApi = {
  robotId: "",
  deliver: (envelope, options) =>
    forward({
      method: "deliver",
      envelope: b64(envelope),
      run: options.run,
      ...withCommand(options.command),
    }, options.onEvent) as Promise<
      { receipt: Receipt; evidence: EvidenceRecord | null }
    >,
  validate: (envelope) =>
    forward({ method: "validate", envelope: b64(envelope) }) as Promise<
      Receipt
    >,
  run: (programId, options) =>
    forward({
      method: "run",
      programId,
      ...(options.version !== undefined ? { version: options.version } : {}),
      ...withCommand(options.command),
    }, options.onEvent) as Promise<EvidenceRecord>,
  stop: (reason) =>
    forward({ method: "stop", reason }) as Promise<{ runId: string | null }>,
  resume: (options) =>
    forward({ method: "resume", ...withCommand(options.command) }) as Promise<
      boolean
    >,
  list: () => forward({ method: "list" }) as Promise<CachedProgram[]>,
  listRuns: (filter: RunFilter) =>
    forward({ method: "listRuns", filter }) as Promise<RunPage>,
  getEvidence: async (runId) =>
    ((await forward({ method: "getEvidence", runId })) ?? undefined) as
      | EvidenceRecord
      | undefined,
  getWorld: () =>
    forward({ method: "getWorld" }) as Promise<
      { world: WorldState | null; state: string; at: string }
    >,
};

const serving: { server: Awaited<ReturnType<typeof startGrpcServer>> | null } =
  {
    server: null,
  };

async function serve(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = GatewayConfig.parse(JSON.parse(Deno.args[0] ?? ""));
    (core as { robotId: string }).robotId = config.robotId;
    inFlight.maxCalls = config.maxCallsInFlight;
  } catch (error) {
    await giveUp({
      type: "fatal",
      reason: "other",
      message:
        `Cannot start the gRPC gateway: its configuration argument is not valid: ${
          (error as Error).message
        }`,
    });
    return;
  }
  let tls;
  try {
    tls = config.tls
      ? {
        cert: await Deno.readTextFile(config.tls.cert),
        key: await Deno.readTextFile(config.tls.key),
        ...(config.tls.clientCa
          ? { clientCa: await Deno.readTextFile(config.tls.clientCa) }
          : {}),
      }
      : undefined;
  } catch (error) {
    await giveUp({
      type: "fatal",
      reason: "tls",
      message: `Cannot read the gRPC TLS files: ${(error as Error).message}`,
    });
    return;
  }
  try {
    const server = serving.server = await startGrpcServer(core, {
      listen: config.listen,
      maxMessageBytes: config.maxMessageBytes,
      ...(tls ? { tls } : {}),
      log: (level, message) => send({ type: "log", level, message }),
    });
    send({ type: "listening", address: server.address, port: server.port });
  } catch (error) {
    const message = (error as Error).message;
    await giveUp({
      type: "fatal",
      reason: /EADDRINUSE|address already in use|No address added/i.test(
          message,
        )
        ? "address_in_use"
        : /resolve|Name resolution|invalid/i.test(message)
        ? "bad_listen"
        : "other",
      message,
    });
  }
}

void serve();

try {
  for await (const message of channel) {
    if (message.type === "hello") {
      if (message.protocol !== GATEWAY_PROTOCOL) {
        throw new Error(`the core speaks "${message.protocol}"`);
      }
      continue;
    }
    if (message.type === "ping") {
      void channel.send({ type: "pong", seq: message.seq });
      continue;
    }
    const call = pending.get(message.id);
    if (call === undefined) continue;
    if (message.type === "event") {
      call.onEvent?.(message.event as RunEvent);
    } else if (message.ok) {
      pending.delete(message.id);
      call.resolve(message.value);
    } else {
      pending.delete(message.id);
      call.reject(new EdgeApiError(message.status, message.message));
    }
  }
} catch (error) {
  console.error(`grpc gateway: ${(error as Error).message}`);
  Deno.exit(3);
}
// stdin closed: the core is gone or shutting down; never outlive it. Calls
// it already answered get their last frames out first (no GOAWAY: the exit
// drops the connections).
for (const call of pending.values()) {
  call.reject(new EdgeApiError("unavailable", "The robot's core closed"));
}
await serving.server?.drain(1500);
Deno.exit(0);
