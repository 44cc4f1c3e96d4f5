import * as grpc from "@grpc/grpc-js";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { _loadProtos } from "./_protos.ts";
import type { EvidenceRecord } from "../evidence/mod.ts";
import type { Receipt } from "../service/mod.ts";
import { HOST_PORT, signCommand } from "../../verifier/mod.ts";

/** Client TLS: PEM text. `cert`/`key` for mutual TLS. */
export interface EdgeClientTls {
  /** CA certificates the server certificate must chain to, PEM. */
  ca: string;
  /** Client certificate chain for mTLS, PEM. */
  cert?: string;
  /** Client private key for mTLS, PEM. */
  key?: string;
  /** Expected server name when it differs from the target host. */
  serverName?: string;
}

/** The TLS server name sent when the robot is addressed by IP (SNI cannot carry an address). */
const _IP_SNI_PLACEHOLDER = "ip-address.invalid";

/** Options of an {@linkcode EdgeClient}. */
export interface EdgeClientOptions {
  /**
   * An operator key: the client then signs a fresh command (`run` or
   * `resume`, for `robotId`) for every call that needs one and carries no
   * command of its own.
   */
  operator?: { privateJwk: JsonWebKey; keyId?: string; robotId: string };
  /** TLS (or mTLS); default plaintext. */
  tls?: EdgeClientTls;
  /** Default deadline of unary calls, milliseconds; default 30 000. */
  timeoutMs?: number;
}

/** A delivery receipt as the robot answers it: the service's {@linkcode Receipt}. */
export type WireReceipt = Receipt;

/** One run event as streamed by `Run`. */
export interface WireRunEvent {
  /** Id of the run the event belongs to. */
  runId: string;
  /** The event type (`run_started`, `skill_started`, …, `run_ended`). */
  type: string;
  /** The event (for `run_ended`: the evidence record). */
  data: unknown;
}

/** A cached program as `ListPrograms` reports it. */
export interface WireProgram {
  /** Id of the program. */
  programId: string;
  /** Version of the program. */
  version: number;
  /** Hex SHA-256 of the envelope payload. */
  payloadSha256: string;
  /** Id of the key that signed the program. */
  keyId: string;
  /** The instruction the program was written for. */
  instruction: string;
  /** When the robot accepted the program, ISO 8601. */
  acceptedAt: string;
  /** When the program expires, ISO 8601. */
  expiresAt: string;
  /** Hex SHA-256 of the program's source. */
  sourceSha256: string;
}

/** Which runs `ListRuns` returns (every field optional). */
export interface WireRunFilter {
  /** Only runs that failed with this label. */
  label?: string;
  /** Only runs of this program. */
  programId?: string;
  /** Only runs with this outcome. */
  outcome?: string;
  /** Only runs started at or after this time (ISO 8601). */
  since?: string;
  /** 1-500; default 50. */
  pageSize?: number;
  /** `nextPageToken` of the previous page. */
  pageToken?: string;
}

/** One run as `ListRuns` reports it. */
export interface WireRunSummary {
  /** The run's id (for `GetEvidence`). */
  runId: string;
  /** `null` for an unsigned or unreadable program. */
  programId: string | null;
  /** `null` when the program has no version. */
  version: number | null;
  /** `succeeded`, `failed`, `rejected` or `stopped`. */
  outcome: string;
  /** The failure label; `null` when the run succeeded. */
  label: string | null;
  /** ISO 8601 */
  startedAt: string;
  /** ISO 8601 */
  endedAt: string;
  /** Skill calls in the record. */
  skillCalls: number;
}

/** The robot's world estimate as `GetWorld` reports it. */
export interface WireWorld {
  /** The robot's configured id. */
  robotId: string;
  /** `online`, `running` or `stopped` */
  state: string;
  /** `{ objects, holding }`, or `null` when the backend has no estimate. */
  world: { objects: unknown[]; holding: string | null } | null;
  /** When it was read (ISO 8601). */
  at: string;
}

/** An error answered by the robot, with its gRPC status code name. */
export class EdgeCallError extends Error {
  /** The gRPC status code name, e.g. `FAILED_PRECONDITION`. */
  readonly code: string;

  /** Creates the error. */
  constructor(
    method: string,
    target: string,
    code: string,
    details: string,
    options?: ErrorOptions,
  ) {
    super(`Cannot call ${method} on ${target}: ${code}: ${details}`, options);
    this.name = "EdgeCallError";
    this.code = code;
  }
}

/**
 * A gRPC client of one robot's edge runtime (the cloud's delivery client
 * and the operator's CLI).
 *
 * @example
 * ```ts ignore
 * using client = new EdgeClient("127.0.0.1:50051");
 * const { receipt, evidence } = await client.deliver(envelopeJson, { run: true });
 * ```
 */
export class EdgeClient implements Disposable {
  /** The `host:port` the client talks to. */
  readonly target: string;
  // deno-lint-ignore no-explicit-any
  readonly #stub: any;
  // deno-lint-ignore no-explicit-any
  readonly #health: any;
  readonly #timeoutMs: number;
  readonly #operator: EdgeClientOptions["operator"];
  #closed = false;

  /** Connects lazily to `target` (`host:port`). */
  constructor(target: string, options: EdgeClientOptions = {}) {
    if (!HOST_PORT.test(target)) {
      throw new TypeError(`Cannot connect to "${target}": expected host:port`);
    }
    this.target = target;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#operator = options.operator;
    const protos = _loadProtos();
    const channelOptions: Record<string, unknown> = {
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      "grpc.max_send_message_length": 64 * 1024 * 1024,
    };
    let credentials = grpc.credentials.createInsecure();
    if (options.tls) {
      const host = target.slice(0, target.lastIndexOf(":")).replace(
        /^\[(.*)\]$/,
        "$1",
      );
      const name = options.tls.serverName ?? host;
      let verifyOptions: grpc.VerifyOptions = {};
      if (isIP(name) !== 0) {
        // Deno's node:tls refuses an IP address as the TLS server name (SNI),
        // which grpc-js sends by default: send a placeholder name instead and
        // check the certificate against the address itself.
        channelOptions["grpc.ssl_target_name_override"] = _IP_SNI_PLACEHOLDER;
        verifyOptions = {
          checkServerIdentity: (_host: string, cert: PeerCertificate) =>
            checkServerIdentity(name, cert),
        };
      } else if (options.tls.serverName) {
        channelOptions["grpc.ssl_target_name_override"] = name;
      }
      credentials = grpc.credentials.createSsl(
        Buffer.from(options.tls.ca),
        options.tls.key ? Buffer.from(options.tls.key) : null,
        options.tls.cert ? Buffer.from(options.tls.cert) : null,
        verifyOptions,
      );
    }
    this.#stub = new protos.EdgeRuntime(target, credentials, channelOptions);
    this.#health = new protos.Health(target, credentials, channelOptions);
  }

  /** Delivers a signed envelope; with `run`, runs it and returns its evidence. */
  async deliver(
    envelope: string | Uint8Array,
    options: {
      run?: boolean;
      /** With `run`: an operator command (DSSE envelope) for `run`. */
      command?: string | Uint8Array;
      signal?: AbortSignal;
      timeoutMs?: number;
    } = {},
  ): Promise<{ receipt: WireReceipt; evidence: EvidenceRecord | null }> {
    const bytes = typeof envelope === "string"
      ? new TextEncoder().encode(envelope)
      : envelope;
    const command = options.run
      ? await this.#command(options.command, {
        command: "run",
        ...programOf(bytes),
      })
      : undefined;
    const response = await this.#unary<
      { receipt: WireReceipt; evidenceJson: string }
    >(
      "deliver",
      {
        envelope: bytes,
        run: options.run === true,
        ...(command ? { command } : {}),
      },
      {
        ...options,
        timeoutMs: options.timeoutMs ??
          (options.run ? 24 * 3600_000 : this.#timeoutMs),
      },
    );
    return {
      receipt: normalizeReceipt(response.receipt),
      evidence: response.evidenceJson
        ? JSON.parse(response.evidenceJson)
        : null,
    };
  }

  /** Checks an envelope on the robot without storing or running it. */
  async validate(
    envelope: string | Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<WireReceipt> {
    const bytes = typeof envelope === "string"
      ? new TextEncoder().encode(envelope)
      : envelope;
    const response = await this.#unary<{ receipt: WireReceipt }>("validate", {
      envelope: bytes,
    }, options);
    return normalizeReceipt(response.receipt);
  }

  /** Runs a cached program; resolves with the evidence record after streaming events to `onEvent`. */
  run(
    programId: string,
    options: {
      version?: number;
      /** An operator command (DSSE envelope) for `run` of this program. */
      command?: string | Uint8Array;
      signal?: AbortSignal;
      onEvent?: (event: WireRunEvent) => void;
    } = {},
  ): Promise<EvidenceRecord> {
    const signing = this.#command(options.command, {
      command: "run",
      programId,
      ...(options.version ? { version: options.version } : {}),
    });
    return signing.then((command) => this.#run(programId, options, command));
  }

  #run(
    programId: string,
    options: {
      version?: number;
      signal?: AbortSignal;
      onEvent?: (event: WireRunEvent) => void;
    },
    command: Uint8Array | undefined,
  ): Promise<EvidenceRecord> {
    return new Promise((resolve, reject) => {
      const call = this.#stub.run({
        programId,
        version: options.version ?? 0,
        ...(command ? { command } : {}),
      });
      let evidence: EvidenceRecord | null = null;
      const onAbort = () => call.cancel();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      call.on(
        "data",
        (message: { runId: string; type: string; json: string }) => {
          let data: unknown = null;
          try {
            data = JSON.parse(message.json);
          } catch {
            data = message.json;
          }
          if (message.type === "run_ended") evidence = data as EvidenceRecord;
          options.onEvent?.({ runId: message.runId, type: message.type, data });
        },
      );
      call.on("error", (error: grpc.ServiceError) => {
        options.signal?.removeEventListener("abort", onAbort);
        reject(this.#error("Run", error));
      });
      call.on("end", () => {
        options.signal?.removeEventListener("abort", onAbort);
        if (evidence) resolve(evidence);
        else {reject(
            new EdgeCallError(
              "Run",
              this.target,
              "UNKNOWN",
              "the stream ended without evidence",
            ),
          );}
      });
    });
  }

  /** Emergency stop; resolves once the robot halted the guest. */
  async stop(
    reason = "",
    options: { signal?: AbortSignal } = {},
  ): Promise<{ runId: string }> {
    return await this.#unary("stop", { reason }, options);
  }

  /** Allows runs again after an emergency stop. */
  async resume(
    options: {
      /** An operator command (DSSE envelope) for `resume`. */
      command?: string | Uint8Array;
      signal?: AbortSignal;
    } = {},
  ): Promise<{ wasStopped: boolean }> {
    const command = await this.#command(options.command, {
      command: "resume",
    });
    return await this.#unary(
      "resume",
      command ? { command } : {},
      options,
    );
  }

  /** The command to send: the caller's, or one signed with the operator key, or none. */
  async #command(
    given: string | Uint8Array | undefined,
    what:
      | { command: "run"; programId?: string; version?: number }
      | { command: "resume" },
  ): Promise<Uint8Array | undefined> {
    if (given !== undefined) {
      return typeof given === "string"
        ? new TextEncoder().encode(given)
        : given;
    }
    if (this.#operator === undefined) return undefined;
    const envelope = await signCommand(
      { ...what, robot: this.#operator.robotId },
      this.#operator.privateJwk,
      this.#operator.keyId ? { keyId: this.#operator.keyId } : {},
    );
    return new TextEncoder().encode(JSON.stringify(envelope));
  }

  /** The programs cached on the robot. */
  async list(options: { signal?: AbortSignal } = {}): Promise<WireProgram[]> {
    const response = await this.#unary<{ programs: WireProgram[] }>(
      "listPrograms",
      {},
      options,
    );
    return response.programs ?? [];
  }

  /** The runs in the robot's evidence store, newest first, one page at a time. */
  async listRuns(
    filter: WireRunFilter = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<{ runs: WireRunSummary[]; nextPageToken: string }> {
    const response = await this.#unary<
      { runs?: Array<Record<string, unknown>>; nextPageToken?: string }
    >("listRuns", {
      label: filter.label ?? "",
      programId: filter.programId ?? "",
      outcome: filter.outcome ?? "",
      since: filter.since ?? "",
      pageSize: filter.pageSize ?? 0,
      pageToken: filter.pageToken ?? "",
    }, options);
    return {
      runs: (response.runs ?? []).map((r) => ({
        runId: String(r.runId ?? ""),
        programId: r.programId ? String(r.programId) : null,
        version: Number(r.version ?? 0) || null,
        outcome: String(r.outcome ?? ""),
        label: r.label ? String(r.label) : null,
        startedAt: String(r.startedAt ?? ""),
        endedAt: String(r.endedAt ?? ""),
        skillCalls: Number(r.skillCalls ?? 0),
      })),
      nextPageToken: response.nextPageToken ?? "",
    };
  }

  /** One run's evidence record from the robot's store (NOT_FOUND when it has none). */
  async getEvidence(
    runId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<EvidenceRecord> {
    const response = await this.#unary<{ evidenceJson: string }>(
      "getEvidence",
      { runId },
      options,
    );
    return JSON.parse(response.evidenceJson) as EvidenceRecord;
  }

  /** The robot's current world estimate and state. */
  async getWorld(
    options: { signal?: AbortSignal } = {},
  ): Promise<WireWorld> {
    const response = await this.#unary<
      { robotId: string; state: string; worldJson: string; at: string }
    >("getWorld", {}, options);
    return {
      robotId: response.robotId,
      state: response.state,
      world: response.worldJson ? JSON.parse(response.worldJson) : null,
      at: response.at,
    };
  }

  /** The standard health check: `SERVING`, `NOT_SERVING`, … */
  async health(
    options: { signal?: AbortSignal; service?: string } = {},
  ): Promise<string> {
    const response = await this.#unary<{ status: string }>(
      "check",
      { service: options.service ?? "" },
      options,
      this.#health,
    );
    return response.status;
  }

  /** Closes the channels; closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stub.close();
    this.#health.close();
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #unary<T>(
    method: string,
    request: unknown,
    options: { signal?: AbortSignal; timeoutMs?: number },
    // deno-lint-ignore no-explicit-any
    stub: any = this.#stub,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(options.signal.reason);
        return;
      }
      const deadline = new Date(
        Date.now() + (options.timeoutMs ?? this.#timeoutMs),
      );
      const call = stub[method](
        request,
        { deadline },
        (error: grpc.ServiceError | null, value: T) => {
          options.signal?.removeEventListener("abort", onAbort);
          if (error) reject(this.#error(method, error));
          else resolve(value);
        },
      );
      const onAbort = () => call.cancel();
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #error(method: string, error: grpc.ServiceError): EdgeCallError {
    const code = grpc.status[error.code] ?? String(error.code);
    return new EdgeCallError(
      method,
      this.target,
      code,
      error.details || error.message,
      { cause: error },
    );
  }
}

function normalizeReceipt(receipt: WireReceipt): WireReceipt {
  return {
    ...receipt,
    verifier: {
      ok: receipt.verifier?.ok ?? false,
      issues: receipt.verifier?.issues ?? [],
    },
  };
}

/** The program id and version an envelope's manifest names (for the run command), when it can be read. */
function programOf(
  envelope: Uint8Array,
): { programId?: string; version?: number } {
  try {
    const { payload } = JSON.parse(new TextDecoder().decode(envelope));
    const manifest = JSON.parse(
      new TextDecoder().decode(Uint8Array.fromBase64(payload)),
    );
    return {
      ...(typeof manifest.programId === "string"
        ? { programId: manifest.programId }
        : {}),
      ...(typeof manifest.version === "number"
        ? { version: manifest.version }
        : {}),
    };
  } catch {
    // Not readable: the robot refuses the envelope anyway.
    return {};
  }
}
