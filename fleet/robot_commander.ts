import {
  EdgeCallError,
  EdgeClient,
  type EdgeClientTls,
  type WireProgram,
} from "../runtime/grpc/mod.ts";
import type { RobotRow } from "./store/mod.ts";

/** A robot the console can dial: its id and the gRPC endpoint it announced. */
export interface RobotTarget {
  /** The robot's id (the one its signed commands name). */
  robotId: string;
  /** `host:port` from its heartbeat. */
  address: string;
  /** TLS to the robot, or undefined for plaintext. */
  tls: EdgeClientTls | undefined;
}

/**
 * Why the console could not command a robot. `status` is the HTTP status
 * the API answers with; `code` is the robot's gRPC status name when the
 * robot answered (e.g. `PERMISSION_DENIED`, `UNAVAILABLE`), else null.
 */
export class RobotCommandError extends Error {
  /** HTTP status for the API's answer. */
  readonly status: 403 | 409 | 502 | 504;
  /** The robot's gRPC status name, or null when it was not asked. */
  readonly code: string | null;

  /** Creates the error. */
  constructor(
    message: string,
    status: 403 | 409 | 502 | 504,
    code: string | null = null,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "RobotCommandError";
    this.status = status;
    this.code = code;
  }
}

/** Options of {@linkcode RobotCommander}. */
export interface RobotCommanderOptions {
  /**
   * The operator key (a trust-store key with the `operator` role) that signs
   * `run` and `resume` commands; without it the console cannot run or resume.
   */
  operator?: { privateJwk: JsonWebKey; keyId?: string | undefined } | undefined;
  /** TLS to robots that announce it: the CA (and a client certificate for mTLS). */
  tls?: EdgeClientTls | undefined;
  /** Deadline of each call (and of a run's start), milliseconds. Default 30 000. */
  timeoutMs?: number | undefined;
}

/** What a started run is. */
export interface StartedRun {
  /** The new run's id (its evidence arrives over MQTT when it ends). */
  runId: string;
  /** The program that runs. */
  programId: string;
  /** The version asked for, or null for the newest. */
  version: number | null;
}

/**
 * The console's gRPC side: runs, resumes (with commands signed by the
 * operator key) and lists the programs of a robot at the address its
 * heartbeat announced. Every call opens a client and closes it.
 */
export class RobotCommander {
  readonly #options: RobotCommanderOptions;

  /** Keeps the options; connects only when asked. */
  constructor(options: RobotCommanderOptions = {}) {
    this.#options = options;
  }

  /** Whether the console has an operator key (can run and resume). */
  get canSign(): boolean {
    return this.#options.operator !== undefined;
  }

  /** Whether the console has a CA for robots that serve TLS. */
  get hasTls(): boolean {
    return this.#options.tls !== undefined;
  }

  /**
   * Throws a {@linkcode RobotCommandError} (403) when the console has no
   * operator key to sign `command` for `robotId`.
   */
  checkCanSign(command: "run" | "resume", robotId: string): void {
    if (this.#options.operator !== undefined) return;
    throw new RobotCommandError(
      `Cannot ${command} robot "${robotId}": the console has no operator key to sign the command (start it with --operator-key <private.jwk.json>)`,
      403,
    );
  }

  /**
   * Where to dial `robot`: throws a {@linkcode RobotCommandError} (409)
   * when it announced no address, or serves TLS and the console has no CA.
   */
  target(robot: RobotRow): RobotTarget {
    const grpc = robot.grpc;
    if (grpc === null || grpc.address === null) {
      throw new RobotCommandError(
        `Cannot reach robot "${robot.robotId}": it has announced no gRPC address (${
          grpc === null
            ? "no heartbeat with one yet"
            : "it listens on every interface without grpc.advertise"
        })`,
        409,
      );
    }
    if (grpc.tls && this.#options.tls === undefined) {
      throw new RobotCommandError(
        `Cannot reach robot "${robot.robotId}" at ${grpc.address}: it serves TLS and the console has no CA for it (start it with --robot-ca <pem>)`,
        409,
      );
    }
    return {
      robotId: robot.robotId,
      address: grpc.address,
      tls: grpc.tls ? this.#options.tls : undefined,
    };
  }

  /**
   * Runs `programId` (the newest version, or `version`) on the robot with
   * a signed `run` command; resolves once the robot reports the run
   * started. The run goes on at the robot after the console stops
   * listening.
   */
  async run(
    target: RobotTarget,
    programId: string,
    options: { version?: number | undefined; signal?: AbortSignal } = {},
  ): Promise<StartedRun> {
    using client = this.#client(target, "run");
    const listening = new AbortController();
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = AbortSignal.any([
      listening.signal,
      deadline,
      ...(options.signal ? [options.signal] : []),
    ]);
    const started = Promise.withResolvers<string>();
    const running = client.run(programId, {
      ...(options.version === undefined ? {} : { version: options.version }),
      signal,
      onEvent: (event) => started.resolve(event.runId),
    });
    running.then((evidence) => started.resolve(evidence.runId), (error) => {
      started.reject(
        deadline.aborted
          ? new RobotCommandError(
            `Cannot run "${programId}" on robot "${target.robotId}": it did not start the run within ${this.#timeoutMs} ms`,
            504,
          )
          : error,
      );
    });
    try {
      const runId = await started.promise;
      return { runId, programId, version: options.version ?? null };
    } catch (error) {
      throw _robotError(error, `run "${programId}" on`, target);
    } finally {
      // Stop listening: the robot keeps running the program.
      listening.abort();
      await running.catch(() => {});
    }
  }

  /** Releases the robot's emergency stop with a signed `resume` command. */
  async resume(
    target: RobotTarget,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ wasStopped: boolean }> {
    using client = this.#client(target, "resume");
    try {
      return await client.resume(options);
    } catch (error) {
      throw _robotError(error, "resume", target);
    }
  }

  /** The programs cached on the robot (needs no operator key). */
  async programs(
    target: RobotTarget,
    options: { signal?: AbortSignal } = {},
  ): Promise<WireProgram[]> {
    using client = this.#client(target, null);
    try {
      return await client.list(options);
    } catch (error) {
      throw _robotError(error, "list the programs of", target);
    }
  }

  get #timeoutMs(): number {
    return this.#options.timeoutMs ?? 30_000;
  }

  #client(target: RobotTarget, command: "run" | "resume" | null): EdgeClient {
    const operator = this.#options.operator;
    if (command !== null) this.checkCanSign(command, target.robotId);
    return new EdgeClient(target.address, {
      timeoutMs: this.#timeoutMs,
      ...(target.tls === undefined ? {} : { tls: target.tls }),
      ...(operator === undefined ? {} : {
        operator: {
          privateJwk: operator.privateJwk,
          ...(operator.keyId === undefined ? {} : { keyId: operator.keyId }),
          robotId: target.robotId,
        },
      }),
    });
  }
}

function _robotError(
  error: unknown,
  what: string,
  target: RobotTarget,
): RobotCommandError {
  if (error instanceof RobotCommandError) return error;
  if (error instanceof EdgeCallError) {
    return new RobotCommandError(
      `Cannot ${what} robot "${target.robotId}": ${error.message}`,
      error.code === "DEADLINE_EXCEEDED" ? 504 : 502,
      error.code,
      { cause: error },
    );
  }
  return new RobotCommandError(
    `Cannot ${what} robot "${target.robotId}" at ${target.address}: ${
      (error as Error).message
    }`,
    502,
    null,
    { cause: error },
  );
}
