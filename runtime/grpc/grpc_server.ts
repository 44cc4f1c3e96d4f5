import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import {
  evidenceToWire,
  InvalidRequestError,
  runFilterFromWire,
  runIdFromWire,
  runPageToWire,
  type WireListRunsRequest,
} from "./_runs_wire.ts";
import { _loadProtos } from "./_protos.ts";
import { setTimeout as delay } from "node:timers/promises";
import { cutText } from "../evidence/mod.ts";
import type { CachedProgram, Receipt } from "../service/mod.ts";
import { type EdgeApi, type EdgeStatus, statusOf } from "./edge_api.ts";

/** TLS of the gRPC server: PEM text. With `clientCa`, client certificates are required (mTLS). */
export interface GrpcTls {
  /** The server certificate chain, PEM. */
  cert: string;
  /** The server private key, PEM. */
  key: string;
  /** CA certificates that client certificates must chain to, PEM; turns on mTLS. */
  clientCa?: string;
}

/** Options of {@linkcode startGrpcServer}. */
export interface GrpcServerOptions {
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  /** TLS (or mTLS); default plaintext. */
  tls?: GrpcTls;
  /** Largest request accepted, bytes; default 2 MiB. */
  maxMessageBytes?: number;
  /** Where the server tells what happens; default silent. */
  log?: (level: "info" | "warn" | "error", message: string) => void;
}

/** A running gRPC server; disposing it shuts it down. */
export interface GrpcServerHandle extends AsyncDisposable {
  /** The bound port. */
  readonly port: number;
  /** `host:port` as bound. */
  readonly address: string;
  /** Stops accepting calls, ends open streams, closes (sends HTTP/2 GOAWAY). */
  shutdown(): Promise<void>;
  /**
   * Reports NOT_SERVING and waits (at most `timeoutMs`) until no call is in
   * progress, without closing connections: for a process about to exit.
   */
  drain(timeoutMs?: number): Promise<void>;
}

type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;
type Unary<Req, Res> = grpc.ServerUnaryCall<Req, Res>;

/**
 * Serves `cap.v1.EdgeRuntime` and `grpc.health.v1.Health` for `service`.
 *
 * @example
 * ```ts ignore
 * await using server = await startGrpcServer(service, { listen: "127.0.0.1:0" });
 * ```
 */
export async function startGrpcServer(
  service: EdgeApi,
  options: GrpcServerOptions,
): Promise<GrpcServerHandle> {
  const protos = _loadProtos();
  const maxBytes = options.maxMessageBytes ?? 2 * 1024 * 1024;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
  });
  const log = options.log ?? (() => {});
  let serving = true;
  /** Calls in progress; a drain waits for them to settle. */
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    inflight.add(promise);
    return promise.finally(() => inflight.delete(promise));
  };
  const watchers = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  const runs = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  server.addService(protos.EdgeRuntime.service, {
    deliver: (
      call: Unary<
        { envelope: Uint8Array; run: boolean; command: Uint8Array },
        unknown
      >,
      callback: Callback<unknown>,
    ) => {
      guard(callback, async () => {
        const { receipt, evidence } = await service.deliver(
          call.request.envelope ?? new Uint8Array(),
          {
            run: call.request.run === true,
            ...commandOf(call.request),
          },
        );
        return {
          receipt: toWireReceipt(receipt),
          evidenceJson: evidence ? JSON.stringify(evidence) : "",
        };
      });
    },
    validate: (
      call: Unary<{ envelope: Uint8Array }, unknown>,
      callback: Callback<unknown>,
    ) => {
      guard(callback, async () => ({
        receipt: toWireReceipt(
          await service.validate(call.request.envelope ?? new Uint8Array()),
        ),
      }));
    },
    run: (
      call: grpc.ServerWritableStream<
        { programId: string; version: number; command: Uint8Array },
        unknown
      >,
    ) => {
      const { programId, version } = call.request;
      if (!programId) {
        call.emit(
          "error",
          status(
            grpc.status.INVALID_ARGUMENT,
            "Cannot run: program_id is empty",
          ),
        );
        return;
      }
      // uint64 arrives as a number: past 2^53 it is no longer exact.
      if (version && !Number.isSafeInteger(Number(version))) {
        call.emit(
          "error",
          status(
            grpc.status.INVALID_ARGUMENT,
            `Cannot run: version is at most ${Number.MAX_SAFE_INTEGER}, got ${version}`,
          ),
        );
        return;
      }
      runs.add(call as grpc.ServerWritableStream<unknown, unknown>);
      track(service.run(programId, {
        ...(version ? { version: Number(version) } : {}),
        ...commandOf(call.request),
        onEvent: (event) => {
          if (!call.writable) return;
          const { type, runId } = event;
          call.write({
            runId,
            type,
            json: JSON.stringify(type === "run_ended" ? event.evidence : event),
          });
        },
      })).then(() => call.end(), (error) => call.emit("error", toStatus(error)))
        .finally(() =>
          runs.delete(call as grpc.ServerWritableStream<unknown, unknown>)
        );
    },
    stop: (
      call: Unary<{ reason: string }, unknown>,
      callback: Callback<unknown>,
    ) => {
      guard(callback, async () => {
        const reason = call.request.reason ||
          `stop requested over gRPC by ${call.getPeer()}`;
        const { runId } = await service.stop(reason);
        return { runId: runId ?? "" };
      });
    },
    resume: (
      call: Unary<{ command: Uint8Array }, unknown>,
      callback: Callback<unknown>,
    ) => {
      guard(callback, async () => ({
        wasStopped: await service.resume(commandOf(call.request)),
      }));
    },
    listPrograms: (
      _call: Unary<unknown, unknown>,
      callback: Callback<unknown>,
    ) => {
      guard(
        callback,
        async () => ({ programs: (await service.list()).map(toWireProgram) }),
      );
    },
    listRuns: (
      call: Unary<WireListRunsRequest, unknown>,
      callback: Callback<unknown>,
    ) => {
      guard(callback, async () =>
        runPageToWire(
          await service.listRuns(runFilterFromWire(call.request)),
        ));
    },
    getEvidence: (
      call: Unary<{ runId: string }, unknown>,
      callback: Callback<unknown>,
    ) => {
      guard(callback, async () => {
        const runId = runIdFromWire(call.request);
        const record = await service.getEvidence(runId);
        if (record === undefined) {
          throw (status(
            grpc.status.NOT_FOUND,
            `Cannot get evidence: no run "${
              runId.slice(0, 80)
            }" in this robot's evidence store (it keeps the newest runs only)`,
          ));
        }
        return evidenceToWire(record);
      });
    },
    getWorld: (_call: Unary<unknown, unknown>, callback: Callback<unknown>) => {
      guard(callback, async () => {
        const { world, state, at } = await service.getWorld();
        return {
          robotId: service.robotId,
          state,
          worldJson: JSON.stringify(world),
          at,
        };
      });
    },
  });

  const healthOf = (name: string) => {
    if (name !== "" && name !== "cap.v1.EdgeRuntime") return "SERVICE_UNKNOWN";
    return serving ? "SERVING" : "NOT_SERVING";
  };
  server.addService(protos.Health.service, {
    check: (
      call: Unary<{ service: string }, unknown>,
      callback: Callback<unknown>,
    ) => {
      const health = healthOf(call.request.service ?? "");
      if (health === "SERVICE_UNKNOWN") {
        callback(
          status(
            grpc.status.NOT_FOUND,
            `unknown service "${call.request.service}"`,
          ),
        );
      } else callback(null, { status: health });
    },
    watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
      call.write({ status: healthOf(call.request.service ?? "") });
      const stream = call as grpc.ServerWritableStream<unknown, unknown>;
      watchers.add(stream);
      call.on("cancelled", () => watchers.delete(stream));
    },
  });

  // Server reflection (grpc.reflection.v1 and v1alpha), so that generic
  // clients (grpcurl, grpcui, Postman) can list and call the services.
  new ReflectionService(protos.definition).addToServer(server);

  // Without a client CA, grpc-js hands `ca: undefined` to the TLS server,
  // and on Deno that server then answers the handshake with garbage
  // ("excessive message size"). The server's own chain as the CA is inert
  // when client certificates are not requested, and works.
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(
      Buffer.from(options.tls.clientCa ?? options.tls.cert),
      [{
        cert_chain: Buffer.from(options.tls.cert),
        private_key: Buffer.from(options.tls.key),
      }],
      options.tls.clientCa !== undefined,
    )
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, credentials, (error, port) => {
      if (error) {
        reject(
          new Error(
            `Cannot serve gRPC on "${options.listen}": ${error.message}`,
            { cause: error },
          ),
        );
      } else resolve(port);
    });
  });
  const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
  log(
    "info",
    `gRPC listening on ${host}:${port}${
      options.tls ? (options.tls.clientCa ? " (mTLS)" : " (TLS)") : ""
    }`,
  );

  let closing: Promise<void> | null = null;
  const shutdown = () => {
    closing ??= (async () => {
      serving = false;
      for (const watcher of watchers) {
        watcher.write({ status: "NOT_SERVING" });
        watcher.end();
      }
      watchers.clear();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    })();
    return closing;
  };
  const drain = async (timeoutMs = 2000) => {
    serving = false;
    for (const watcher of watchers) watcher.write({ status: "NOT_SERVING" });
    // The calls in progress settle, or the bound passes: no polling.
    const bound = new AbortController();
    await Promise.race([
      Promise.allSettled([...inflight]),
      delay(timeoutMs, undefined, { signal: bound.signal }).catch(() => {}),
    ]);
    bound.abort();
    // Let the last frames reach the socket.
    await delay(50);
  };
  return {
    port,
    address: `${host}:${port}`,
    shutdown,
    drain,
    [Symbol.asyncDispose]: shutdown,
  };

  function guard<T>(callback: Callback<T>, body: () => Promise<T>): void {
    track(body()).then((value) => callback(null, value), (error) => {
      const mapped = toStatus(error);
      if (mapped.code === grpc.status.INTERNAL) {
        log("error", `gRPC call failed: ${mapped.details}`);
      }
      callback(mapped);
    });
  }
}

/**
 * The longest status message sent, characters. A message may echo what a
 * client sent (a program id, a stop reason); grpc-js clients wait out
 * their deadline on a `grpc-message` trailer of 100 KB.
 */
const MAX_DETAILS_CHARS = 2000;

function status(code: grpc.status, details: string): grpc.ServiceError {
  // Well-formed, or grpc-js cannot encode it and the call is never answered.
  details = cutText(details, MAX_DETAILS_CHARS).toWellFormed();
  return Object.assign(new Error(details), {
    code,
    details,
    metadata: new grpc.Metadata(),
  });
}

const GRPC_STATUS: Record<EdgeStatus, grpc.status> = {
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  failed_precondition: grpc.status.FAILED_PRECONDITION,
  not_found: grpc.status.NOT_FOUND,
  permission_denied: grpc.status.PERMISSION_DENIED,
  unavailable: grpc.status.UNAVAILABLE,
  internal: grpc.status.INTERNAL,
};

function toStatus(error: unknown): grpc.ServiceError {
  if (error instanceof Error && "code" in error && "details" in error) {
    return error as grpc.ServiceError;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof InvalidRequestError) {
    return status(grpc.status.INVALID_ARGUMENT, message);
  }
  return status(GRPC_STATUS[statusOf(error)], message);
}

/** The request's operator command, when it carries one. */
function commandOf(
  request: { command?: Uint8Array },
): { command?: Uint8Array } {
  const command = request.command;
  return command && command.length > 0 ? { command } : {};
}

function toWireReceipt(receipt: Receipt): Record<string, unknown> {
  return {
    ...receipt,
    verifier: { ok: receipt.verifier.ok, issues: receipt.verifier.issues },
  };
}

function toWireProgram(program: CachedProgram): Record<string, unknown> {
  return {
    programId: program.programId,
    version: program.version,
    payloadSha256: program.payloadSha256,
    keyId: program.keyId,
    instruction: program.instruction ?? "",
    acceptedAt: program.acceptedAt,
    expiresAt: program.expiresAt,
    sourceSha256: program.sourceSha256,
  };
}
