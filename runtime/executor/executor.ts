import { sha256Hex } from "../evidence/mod.ts";
import {
  callSkill,
  ClosedError,
  type SkillApi,
  type SkillBackend,
  type SkillOutcome,
  TABLETOP_API,
  type WorldState,
} from "../../skills-bridge/mod.ts";
import { VerifierPool } from "./verifier_pool.ts";
import { SANDBOX_LIMITS } from "../../verifier/mod.ts";
import { SandboxHost, type SandboxResult } from "../sandbox/mod.ts";
import { HALT, MAX_ARGS_JSON } from "../sandbox/mod.ts";
import { type Caps, DEFAULT_CAPS, lowerCaps } from "./caps.ts";
import type {
  CallRecord,
  CheckRecord,
  EvidenceRecord,
  FailureLabel,
  Outcome,
  VerifierReport,
} from "../evidence/mod.ts";
import { labelForSkillCode, type RecordStart } from "../evidence/mod.ts";

/**
 * How long after a kill or a worn-out host the replacement is started: a
 * moment, so that the spawn does not delay the stop's answers.
 */
const RESPAWN_DELAY_MS = 5;
/** QuickJS stack cap; the wasm build's own stack overflows well above it. */
const STACK_BYTES = 256 * 1024;

/** Options of an {@linkcode Executor}. */
export interface ExecutorOptions {
  /** The skills the guest drives. The executor does not own it. */
  backend: SkillBackend;
  /** The skill API the guest sees; default the tabletop API. */
  api?: SkillApi;
  /** Written into every evidence record; default `"local"`. */
  robotId?: string;
  /** The robot's caps; manifests and requests can only lower them. */
  caps?: Partial<Caps>;
  /** How long a halting guest may take before its host is killed; default 2 ms (a killed host costs only a spare taking over). */
  stopGraceMs?: number;
  /** How long to wait for in-flight skills to acknowledge a cancel; default 2000 ms. */
  cancelWaitMs?: number;
  /** Deadline for each postcondition check; default 1000 ms. */
  checkTimeoutMs?: number;
  /**
   * A sandbox host is retired after this many runs; default 20 000. A host
   * grows by 1–2 MiB per 1 000 runs, and each retirement costs a respawn
   * (about half a second of CPU on both cores while V8 compiles QuickJS),
   * which slows the runs around it.
   */
  maxRunsPerHost?: number;
  /**
   * A sandbox host is retired once its resident memory passes this; default
   * 144 MiB. A fresh host holds about 90 MiB and grows by 1–2 MiB per 1 000
   * runs; a guest that used more than about 40 MiB of its cap leaves the
   * WebAssembly memory grown (it never shrinks) and carries its host past
   * the mark. A host reports its memory as measured after an earlier run:
   * the one before when that did not simply finish (an allocation loop
   * that ran out of memory), else within its last 8, so such a host is
   * retired at the end of its next run, or within 8 runs.
   */
  hostMemoryMarkBytes?: number;
  /**
   * Verifies sources off the event loop; default: the executor's own. Share
   * one between the service and its executor.
   */
  verifier?: VerifierPool;
  /** Where sandbox hosts' stderr lines and restarts are told. */
  log?: (level: "info" | "warn", message: string) => void;
}

/** One program to run. */
export interface RunRequest {
  /** The program's JavaScript source. */
  source: string;
  /** The instruction the program was written for, kept in the evidence. */
  instruction?: string | null;
  /** Postconditions: JavaScript expressions over the query skills. */
  checks?: readonly string[];
  /** Lower the robot's caps for this run (never raise them). */
  budgets?: Partial<Caps>;
  /** Id of the delivered program, when the run is of a cached program. */
  programId?: string | null;
  /** Version of the delivered program. */
  version?: number | null;
  /** Id of the key that signed the program. */
  keyId?: string | null;
  /** Id of the run; default a fresh one. */
  runId?: string;
  /**
   * The verifier's report of this source and checks, when the caller
   * verified them already (a cached program, verified once at delivery).
   * Without it the executor verifies them itself.
   */
  verified?: VerifierReport;
}

/** Events of one run, in order; the last is `run_ended` with the evidence. */
export type RunEvent =
  | {
    type: "run_started";
    runId: string;
    at: string;
    /** The write-ahead part of the record (program, verifier, world before): the evidence journal begins the record with it. */
    start?: RecordStart;
  }
  | {
    type: "skill_started";
    runId: string;
    seq: number;
    skill: string;
    args: unknown[];
  }
  | {
    type: "skill_feedback";
    runId: string;
    seq: number;
    skill: string;
    feedback: unknown;
  }
  | { type: "skill_ended"; runId: string; call: CallRecord }
  | { type: "run_ended"; runId: string; evidence: EvidenceRecord };

/** Options of {@linkcode Executor.prototype.run}. */
export interface RunOptions {
  /** Aborting halts this run (outcome `stopped`) without latching the e-stop. */
  signal?: AbortSignal;
  /** Called with every event of the run, in order. */
  onEvent?: (event: RunEvent) => void;
}

/** Thrown by `run` while another program drives the robot. */
export class ExecutorBusyError extends Error {
  /** Creates the error naming the run in progress. */
  constructor(runId: string) {
    super(`Cannot start a run: run "${runId}" is still driving the robot`);
    this.name = "ExecutorBusyError";
  }
}

/** Thrown by `run` after an emergency stop, until `resume()`. */
export class EstopLatchedError extends Error {
  /** Creates the error naming why the robot was stopped. */
  constructor(reason: string) {
    super(
      `Cannot start a run: the emergency stop is latched (${reason}); resume first`,
    );
    this.name = "EstopLatchedError";
  }
}

/** Thrown when an executor is used after it was disposed. */
export class ExecutorDisposedError extends ClosedError {
  /** Creates the error. */
  constructor() {
    super("the executor", { state: "disposed" });
    this.name = "ExecutorDisposedError";
  }
}

type HaltReason = typeof HALT[keyof typeof HALT];

interface ActiveRun {
  runId: string;
  sandbox: SandboxHost;
  skills: AbortController;
  inflight: Set<Promise<unknown>>;
  /** The program's call records by the sandbox's call sequence number. */
  bySeq: Map<number, CallRecord>;
  /** Call records whose skill has not ended yet. */
  pending: Set<CallRecord>;
  /** Set once the evidence is being written: a skill that ends later changes nothing in it. */
  ended: boolean;
  haltReason: HaltReason;
  haltMessage: string;
  done: Promise<SandboxResult>;
  killTimer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Runs verified programs in a QuickJS sandbox inside a zero-permission worker,
 * one at a time, with memory, stack, deadline and skill-call caps, a watchdog
 * that does not depend on the guest, and an emergency stop.
 *
 * @example
 * ```ts ignore
 * await using executor = await Executor.create({ backend });
 * const evidence = await executor.run({ source: 'pick("red_block")' });
 * ```
 */
export class Executor implements AsyncDisposable {
  readonly #backend: SkillBackend;
  readonly #api: SkillApi;
  readonly #robotId: string;
  readonly #caps: Caps;
  readonly #stopGraceMs: number;
  readonly #cancelWaitMs: number;
  readonly #checkTimeoutMs: number;
  readonly #maxRunsPerHost: number;
  readonly #hostMemoryMark: number;
  readonly #log: (level: "info" | "warn", message: string) => void;
  /** Hosts retired or killed, until their process has exited. */
  readonly #retiring = new Set<Promise<unknown>>();
  readonly #verifier: VerifierPool;
  readonly #ownsVerifier: boolean;
  #hostRestarts = 0;
  #sandbox: SandboxHost;
  /**
   * A second sandbox: runs alternate between the two, so that one prepares
   * its next QuickJS context while the other runs, and a killed sandbox is
   * replaced by a warm one at once.
   */
  #spare: SandboxHost;
  #active: ActiveRun | null = null;
  #busy: string | null = null;
  /**
   * A run that ended while one of its skills had not, even after its
   * cancel and the cancel's wait: that skill may still move the robot, so
   * no other run starts until it settles.
   */
  #lingering: string | null = null;
  /**
   * The run being prepared (verified, its world read, its host made ready)
   * before its guest starts, and the stop that came meanwhile: it applies
   * to that run even when a resume follows before the guest starts.
   */
  #preparing: { runId: string; stop: string | null } | null = null;
  /**
   * A host started for runs whose memory cap is below the executor's, and
   * that cap: kept for the next such run with the same cap.
   */
  #dedicated: SandboxHost | null = null;
  #dedicatedCap = 0;
  #latched: string | null = null;
  #disposed = false;
  #respawn: ReturnType<typeof setTimeout> | undefined;

  private constructor(options: ExecutorOptions) {
    this.#backend = options.backend;
    this.#api = options.api ?? TABLETOP_API;
    this.#robotId = options.robotId ?? "local";
    this.#caps = lowerCaps({ ...DEFAULT_CAPS }, options.caps);
    this.#stopGraceMs = options.stopGraceMs ?? 2;
    this.#cancelWaitMs = options.cancelWaitMs ?? 2000;
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 1000;
    this.#maxRunsPerHost = options.maxRunsPerHost ?? 20_000;
    this.#hostMemoryMark = options.hostMemoryMarkBytes ?? 144 * 1024 * 1024;
    this.#log = options.log ?? (() => {});
    this.#ownsVerifier = options.verifier === undefined;
    this.#verifier = options.verifier ?? new VerifierPool({ api: this.#api });
    this.#sandbox = this.#newHost();
    this.#spare = this.#newHost();
  }

  /** Creates an executor and waits until its sandboxes are warm. */
  static async create(options: ExecutorOptions): Promise<Executor> {
    const executor = new Executor(options);
    try {
      await Promise.all([executor.#sandbox.ready, executor.#spare.ready]);
    } catch (error) {
      await executor[Symbol.asyncDispose]();
      throw error;
    }
    return executor;
  }

  /** The robot's caps. */
  get caps(): Caps {
    return { ...this.#caps };
  }

  /**
   * The run in progress, or `null`: also a run that ended while one of its
   * skills has not, after its cancel (no other run starts until it does).
   */
  get currentRunId(): string | null {
    return this.#busy ?? this.#lingering;
  }

  /** Sandbox hosts that were killed or retired and replaced so far. */
  get hostRestarts(): number {
    return this.#hostRestarts;
  }

  /** Process ids of the live sandbox hosts (the next run's first). */
  get hostPids(): number[] {
    return [this.#sandbox, this.#spare].filter((h) => h.alive).map((h) =>
      h.pid
    );
  }

  /** Why the e-stop is latched, or `null` when runs are allowed. */
  get stopReason(): string | null {
    return this.#latched;
  }

  /**
   * Waits until the sandbox for the next run is warm; with `spare`, until
   * the warm spare is ready too (a host killed or retired has been
   * replaced, and its replacement started).
   */
  async warm(options: { spare?: boolean } = {}): Promise<void> {
    await this.#ensureSandbox();
    if (!options.spare || this.#disposed) return;
    const recovering = this.#spare.recovering;
    if (recovering !== null) await recovering;
    if (this.#respawn !== undefined || !this.#spare.alive) {
      clearTimeout(this.#respawn);
      this.#respawn = undefined;
      this.#replaceDead();
    }
    // A spare that cannot start is replaced by the next run's own check.
    await this.#spare.ready.catch(() => {});
  }

  /**
   * Verifies and runs one program; always resolves with its evidence record
   * (also when it is rejected or fails). Throws only when it cannot start:
   * busy, e-stop latched, disposed.
   */
  async run(
    request: RunRequest,
    options: RunOptions = {},
  ): Promise<EvidenceRecord> {
    if (this.#disposed) throw new ExecutorDisposedError();
    if (this.#latched !== null) throw new EstopLatchedError(this.#latched);
    if (this.#busy !== null) throw new ExecutorBusyError(this.#busy);
    if (this.#lingering !== null) {
      throw new ExecutorBusyError(this.#lingering);
    }
    const runId = request.runId ?? crypto.randomUUID();
    this.#busy = runId;
    const preparing = { runId, stop: null };
    this.#preparing = preparing;
    try {
      return await this.#run(runId, request, options, preparing);
    } finally {
      this.#busy = null;
      if (this.#preparing === preparing) this.#preparing = null;
    }
  }

  /**
   * Emergency stop: the guest halts, every in-flight skill is cancelled
   * through its backend, the run ends `stopped` / `estop`, and new runs are
   * refused until {@linkcode resume}. Resolves once all of that happened.
   * A run still being prepared (its guest not started) ends `stopped`
   * before it serves any skill call, also if a resume comes first.
   */
  async stop(reason = "emergency stop"): Promise<void> {
    this.#latched = reason;
    const active = this.#active;
    if (active !== null) await this.#halt(active, HALT.estop, reason);
    else if (this.#preparing !== null) this.#preparing.stop ??= reason;
  }

  /** Allows runs again after an emergency stop. */
  resume(): void {
    this.#latched = null;
  }

  /** Stops what runs and kills the sandbox worker. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const active = this.#active;
    if (active !== null) {
      await this.#halt(active, HALT.estop, "the executor was disposed");
    }
    clearTimeout(this.#respawn);
    if (this.#ownsVerifier) this.#verifier[Symbol.dispose]();
    this.#retire(this.#sandbox);
    this.#retire(this.#spare);
    if (this.#dedicated !== null) this.#retire(this.#dedicated);
    await Promise.all([...this.#retiring]);
  }

  #newHost(): SandboxHost {
    return new SandboxHost({
      skills: this.#api.skills.map((s) => s.name),
      // Every run's cap is at most the executor's: the host's ceiling.
      memoryBytes: this.#caps.memoryBytes,
      onStderr: (line, pid) =>
        this.#log("warn", `sandbox host ${pid}: ${line}`),
    });
  }

  /** Lets a host go (closing its stdin; SIGKILL if it lingers) and tracks its exit. */
  #retire(host: SandboxHost): void {
    const gone = host[Symbol.asyncDispose]();
    this.#retiring.add(gone);
    gone.finally(() => this.#retiring.delete(gone));
  }

  async #run(
    runId: string,
    request: RunRequest,
    options: RunOptions,
    preparing: { stop: string | null },
  ): Promise<EvidenceRecord> {
    const started = performance.now();
    const startedAt = new Date().toISOString();
    const emit = (event: RunEvent) => {
      try {
        options.onEvent?.(event);
      } catch {
        // A listener's failure must not disturb the run.
      }
    };
    const caps = lowerCaps(this.#caps, request.budgets);
    const checks = [...(request.checks ?? [])];
    const program = {
      sha256: await sha256Hex(request.source),
      source: request.source,
      instruction: request.instruction ?? null,
      programId: request.programId ?? null,
      version: request.version ?? null,
      keyId: request.keyId ?? null,
    };
    const base = { runId, robotId: this.#robotId, startedAt, program };
    const resources = (skillCalls: number) => ({
      wallMs: round(performance.now() - started),
      skillCalls,
      memoryLimitBytes: caps.memoryBytes,
      timeoutMs: caps.timeoutMs,
    });

    const verifier = request.verified ??
      await this.#verifier.verify(request.source, checks).catch((error) => {
        throw this.#disposed ? new ExecutorDisposedError() : error;
      });
    // evidence journal: run_started carries the record's start (program,
    // verifier, world before), so the service can begin it write-ahead.
    const start = (worldBefore: WorldState | null): RecordStart => ({
      ...base,
      verifier,
      worldBefore,
      limits: { memoryLimitBytes: caps.memoryBytes, timeoutMs: caps.timeoutMs },
    });
    if (!verifier.ok) {
      emit({ type: "run_started", runId, at: startedAt, start: start(null) });
      const first = verifier.issues[0];
      const evidence: EvidenceRecord = {
        ...base,
        endedAt: new Date().toISOString(),
        verifier,
        worldBefore: null,
        worldAfter: null,
        calls: [],
        checks: [],
        outcome: "rejected",
        failure: {
          label: "verification_rejected",
          message: `The verifier refused the program: ${
            verifier.issues.map((i) =>
              `${i.code} at ${i.line}:${i.column}: ${i.message}`
            )
              .slice(0, 5).join("; ")
          }${
            verifier.issues.length > 5
              ? ` (and ${verifier.issues.length - 5} more)`
              : ""
          }`,
          ...(first && first.line > 0 ? { line: first.line } : {}),
        },
        resources: resources(0),
      };
      emit({ type: "run_ended", runId, evidence });
      return evidence;
    }

    // A sandbox that cannot start fails the call before the run begins
    // (no run_started, so no record is begun for a run that never was).
    // A host's memory can never shrink below the cap it was started with:
    // a run allowed less than the executor's cap gets a host started with
    // its cap (a cold start, kept for the next run with that cap).
    const dedicated = caps.memoryBytes < this.#caps.memoryBytes
      ? await this.#startDedicated(caps.memoryBytes)
      : null;
    if (dedicated === null) await this.#ensureSandbox();
    const worldBefore = await this.#world();
    emit({
      type: "run_started",
      runId,
      at: startedAt,
      start: start(worldBefore),
    });
    // Again, for a host that died during the world's read: one that cannot
    // start now ends this run as a sandbox failure, with its evidence.
    if (dedicated === null) await this.#ensureSandbox().catch(() => {});
    const sandbox = dedicated ?? this.#sandbox;
    const calls: CallRecord[] = [];
    const active: ActiveRun = {
      runId,
      sandbox,
      skills: new AbortController(),
      inflight: new Set(),
      bySeq: new Map(),
      pending: new Set(),
      ended: false,
      haltReason: HALT.none,
      haltMessage: "",
      done: Promise.resolve({ kind: "killed" }),
      killTimer: undefined,
    };
    const onCall = (
      call: {
        gen: number;
        seq: number;
        phase: "program" | "check";
        skill: string;
        args: unknown[] | null;
        argsBytes: number;
      },
    ) => {
      const job = this.#serveCall(active, call, caps, calls, started, emit)
        .catch((error) => {
          sandbox.respond(
            call,
            JSON.stringify({
              ok: false,
              code: "backend_error",
              message: `Cannot run ${call.skill}: ${
                error instanceof Error ? error.message : String(error)
              }`,
            }),
          );
        })
        .finally(() => active.inflight.delete(job));
      active.inflight.add(job);
    };
    // The verifier's catch sites, when it accepted this source lately (at
    // its delivery, or above): the host need not parse it again.
    const catchSites = this.#verifier.catchSites(request.source);
    active.done = sandbox.run({
      source: request.source,
      ...(catchSites ? { catchSites: [...catchSites] } : {}),
      checks,
      skills: this.#api.skills.map((s) => s.name),
      querySkills: this.#api.skills.filter((s) => s.kind === "query").map((s) =>
        s.name
      ),
      limits: {
        memoryBytes: caps.memoryBytes,
        stackBytes: STACK_BYTES,
        deadline: Date.now() + caps.timeoutMs,
        checkTimeoutMs: this.#checkTimeoutMs,
      },
    }, onCall);
    this.#active = active;
    this.#preparing = null;
    // A stop that came while the run was being prepared applies to it, and
    // so does a dispose (its hosts are gone: the run ends stopped).
    const stopped = this.#latched ?? preparing.stop;
    if (stopped !== null) this.#halt(active, HALT.estop, stopped);
    else if (this.#disposed) {
      this.#halt(active, HALT.estop, "the executor was disposed");
    }
    const watchdog = setTimeout(() => {
      this.#halt(
        active,
        HALT.timeout,
        `the run passed its deadline of ${caps.timeoutMs} ms`,
      );
    }, caps.timeoutMs);
    const onAbort = () => {
      const reason = options.signal?.reason;
      this.#halt(
        active,
        HALT.estop,
        reason instanceof Error && reason.name === "RunInterrupted"
          ? reason.message
          : "the caller cancelled the run",
      );
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    let result: SandboxResult;
    try {
      result = await active.done;
      // The guest is gone (it ended, halted, or its host died): no one waits
      // for a skill still in flight, and it must not go on moving the robot.
      if (active.inflight.size > 0) {
        active.skills.abort(
          new Error(
            result.kind === "done"
              ? "the run ended before the skill did"
              : "the sandbox host running the program is gone",
          ),
        );
      }
      await this.#settleInflight(active);
    } finally {
      clearTimeout(watchdog);
      clearTimeout(active.killTimer);
      options.signal?.removeEventListener("abort", onAbort);
      this.#active = null;
      // The next run goes to the other host when it is warm, while this one
      // prepares its next context (or, killed or worn, is replaced a moment
      // later, off the stop's answer).
      if (dedicated !== null) {
        if (
          !dedicated.alive || dedicated.runs >= this.#maxRunsPerHost ||
          dedicated.rss > this.#hostMemoryMark
        ) {
          this.#retire(dedicated);
          if (this.#dedicated === dedicated) this.#dedicated = null;
        }
      } else {
        if (this.#spare.warm) {
          [this.#sandbox, this.#spare] = [this.#spare, this.#sandbox];
        }
        // A spare killed meanwhile is replaced too, not only the host that ran.
        if (
          !sandbox.alive || sandbox.runs >= this.#maxRunsPerHost ||
          sandbox.rss > this.#hostMemoryMark || !this.#spare.alive
        ) this.#scheduleRespawn();
      }
    }

    this.#endPending(active, started, emit);
    const worldAfter = await this.#world();
    const { outcome, failure, checkRecords } = this.#judge(
      active,
      result,
      caps,
    );
    const evidence: EvidenceRecord = {
      ...base,
      endedAt: new Date().toISOString(),
      verifier,
      worldBefore,
      worldAfter,
      calls,
      checks: checkRecords,
      outcome,
      failure,
      resources: resources(calls.length),
    };
    emit({ type: "run_ended", runId, evidence });
    return evidence;
  }

  async #world(): Promise<WorldState | null> {
    // A timer cleared on the answer, not AbortSignal.timeout: that one fires
    // anyway, later, and builds a DOMException each time (two a run, about
    // 20 µs each on the core's loop, measured).
    const bound = new AbortController();
    const timer = setTimeout(
      () =>
        bound.abort(
          new Error(`the world took over ${this.#cancelWaitMs} ms to read`),
        ),
      this.#cancelWaitMs,
    );
    try {
      return await this.#backend.world({ signal: bound.signal });
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Warms a replacement after a kill, a little later: `new Worker()` blocks
   * this thread for tens of milliseconds, which must not delay the answers
   * to the stop (gRPC, MQTT). A run that comes first builds its own.
   */
  #scheduleRespawn(): void {
    clearTimeout(this.#respawn);
    this.#respawn = setTimeout(() => {
      this.#respawn = undefined;
      if (this.#disposed) return;
      this.#replaceDead();
    }, RESPAWN_DELAY_MS);
  }

  /** Replaces killed, crashed or worn hosts with fresh ones (none once disposed). */
  #replaceDead(): void {
    if (this.#disposed) return;
    for (const which of ["sandbox", "spare"] as const) {
      const host = which === "sandbox" ? this.#sandbox : this.#spare;
      // A worn host that took a run meanwhile finishes it; the end of that
      // run schedules this again.
      if (host === this.#active?.sandbox) continue;
      // A host stopped by a hard kill may take runs again in a moment: its
      // verdict schedules this again.
      const recovering = host.recovering;
      if (recovering !== null) {
        void recovering.then(() => this.#scheduleRespawn());
        continue;
      }
      const worn = host.alive &&
        (host.runs >= this.#maxRunsPerHost || host.rss > this.#hostMemoryMark);
      if (host.alive && !worn) continue;
      this.#retire(host);
      this.#hostRestarts += 1;
      if (worn) {
        this.#log(
          "info",
          `retired sandbox host ${host.pid} after ${host.runs} runs (${
            Math.round(host.rss / 1048576)
          } MiB)`,
        );
      }
      const fresh = this.#newHost();
      if (which === "sandbox") this.#sandbox = fresh;
      else this.#spare = fresh;
    }
  }

  /**
   * A warm host whose engine's memory holds `memoryBytes` (a run's cap
   * below the executor's). Throws, as a host that cannot start does, before
   * the run begins.
   */
  async #startDedicated(memoryBytes: number): Promise<SandboxHost | null> {
    if (this.#disposed) return null;
    const kept = this.#dedicated;
    if (kept !== null && kept.alive && this.#dedicatedCap === memoryBytes) {
      await kept.ready;
      return kept;
    }
    if (kept !== null) this.#retire(kept);
    this.#log(
      "info",
      `starting a sandbox host for runs capped at ${memoryBytes} bytes of memory, below the executor's ${this.#caps.memoryBytes}`,
    );
    this.#dedicatedCap = memoryBytes;
    const host = new SandboxHost({
      skills: this.#api.skills.map((s) => s.name),
      memoryBytes,
      onStderr: (line, pid) =>
        this.#log("warn", `sandbox host ${pid}: ${line}`),
    });
    this.#dedicated = host;
    try {
      await host.ready;
    } catch (error) {
      this.#retire(host);
      this.#dedicated = null;
      throw error;
    }
    // Disposed while it started: the dispose retired it; the run ends on it.
    return host;
  }

  async #ensureSandbox(): Promise<void> {
    // Disposed: no host is started again; a run then ends on a dead host.
    if (this.#disposed) return;
    // A spare still starting is nearer ready than a host started now.
    if (!this.#sandbox.alive && this.#spare.alive) {
      [this.#sandbox, this.#spare] = [this.#spare, this.#sandbox];
    }
    // No warm spare, and the host is stopped by a hard kill: its verdict
    // comes within tens of milliseconds, sooner than a new host.
    const recovering = this.#sandbox.recovering;
    if (recovering !== null) await recovering;
    if (!this.#sandbox.alive) {
      clearTimeout(this.#respawn);
      this.#respawn = undefined;
      this.#replaceDead();
    }
    try {
      await this.#sandbox.ready;
    } catch {
      // A dispose meanwhile closed the host that was starting: start none.
      if (this.#disposed) return;
      this.#retire(this.#sandbox);
      this.#sandbox = this.#newHost();
      await this.#sandbox.ready;
    }
  }

  async #serveCall(
    active: ActiveRun,
    call: {
      gen: number;
      seq: number;
      phase: "program" | "check";
      skill: string;
      args: unknown[] | null;
      argsBytes: number;
    },
    caps: Caps,
    calls: CallRecord[],
    started: number,
    emit: (event: RunEvent) => void,
  ): Promise<void> {
    const { sandbox, runId } = active;
    const answer = (outcome: SkillOutcome) =>
      sandbox.respond(
        call,
        JSON.stringify(
          outcome.ok ? { ok: true, value: outcome.value } : {
            ok: false,
            code: outcome.error.code,
            message: outcome.error.message,
          },
        ),
      );
    if (call.phase === "check") {
      // Postconditions see only query skills and are not part of the run's calls.
      answer(
        await callSkill(
          this.#backend,
          this.#api,
          call.skill,
          call.args ?? [],
          {
            signal: active.skills.signal,
          },
        ),
      );
      return;
    }
    if (active.haltReason !== HALT.none) {
      answer({
        ok: false,
        error: {
          code: "cancelled",
          message: `Cannot run ${call.skill}: ${active.haltMessage}`,
        },
      });
      return;
    }
    if (calls.length >= caps.maxSkillCalls) {
      const message = `the skill-call budget of ${caps.maxSkillCalls} is spent`;
      // The halt goes first: the guest reads it before this answer, so it
      // is halted before it runs on.
      void this.#halt(active, HALT.budget, message);
      answer({
        ok: false,
        error: {
          code: "cancelled",
          message: `Cannot run ${call.skill}: ${message}`,
        },
      });
      return;
    }
    const startMs = round(performance.now() - started);
    const args = call.args;
    const seq = calls.length + 1;
    const record: CallRecord = {
      seq,
      skill: call.skill,
      args: args === null || call.argsBytes > MAX_RECORDED_ARGS
        ? [`<${call.argsBytes} characters of JSON>`]
        : jsonSafe(args) as unknown[],
      ok: false,
      startMs,
      durationMs: 0,
    };
    calls.push(record);
    active.bySeq.set(call.seq, record);
    active.pending.add(record);
    emit({
      type: "skill_started",
      runId,
      seq,
      skill: call.skill,
      args: record.args,
    });
    const outcome: SkillOutcome = args === null
      ? {
        ok: false,
        error: {
          code: "invalid_argument",
          message: call.argsBytes > MAX_ARGS_JSON
            ? `Cannot call ${call.skill}: its arguments are ${call.argsBytes} characters of JSON, over the limit of ${MAX_ARGS_JSON}`
            : `Cannot call ${call.skill}: its arguments are not plain data (nested deeper than ${SANDBOX_LIMITS.maxSkillArgumentDepth} levels, over ${SANDBOX_LIMITS.maxSkillArgumentValues} values, or cyclic)`,
        },
      }
      : await callSkill(this.#backend, this.#api, call.skill, args, {
        signal: active.skills.signal,
        onFeedback: (feedback) => {
          if (active.ended) return;
          emit({
            type: "skill_feedback",
            runId,
            seq,
            skill: call.skill,
            feedback,
          });
        },
      });
    // Past the run's end its evidence is written: this skill's late end
    // changes nothing in it, and no one waits for the answer.
    if (active.ended) return;
    active.pending.delete(record);
    record.ok = outcome.ok;
    if (outcome.ok) record.result = outcome.value;
    else {record.error = {
        code: outcome.error.code,
        message: outcome.error.message,
      };}
    record.durationMs = round(performance.now() - started - startMs);
    emit({ type: "skill_ended", runId, call: record });
    answer(outcome);
  }

  /** Halts the guest; resolves when it halted and in-flight skills settled. */
  async #halt(
    active: ActiveRun,
    reason: Exclude<HaltReason, 0>,
    message: string,
  ): Promise<void> {
    if (active.haltReason === HALT.none) {
      active.haltReason = reason;
      active.haltMessage = message;
      // The hard kill never depends on the guest's cooperation. Its clock
      // starts first: signalling the host wakes its thread, which may take
      // this one's CPU for a millisecond or more.
      active.killTimer = setTimeout(
        () => active.sandbox.terminate(),
        this.#stopGraceMs,
      );
      active.sandbox.halt(reason);
      active.skills.abort(new Error(message));
    }
    await active.done;
    clearTimeout(active.killTimer);
    await this.#settleInflight(active);
  }

  /**
   * Ends the records of skills still in flight as the run ends (cancelled,
   * and the cancel not confirmed within its wait): the evidence says so,
   * and their late end changes nothing in it. Until those skills settle, no
   * other run starts: two programs never drive the robot at once.
   */
  #endPending(
    active: ActiveRun,
    started: number,
    emit: (event: RunEvent) => void,
  ): void {
    active.ended = true;
    for (const record of active.pending) {
      record.ok = false;
      record.error = {
        code: "cancelled",
        message:
          `Cannot finish ${record.skill}: the run ended before it did, and its cancel was not confirmed within ${this.#cancelWaitMs} ms`,
      };
      record.durationMs = round(performance.now() - started - record.startMs);
      emit({ type: "skill_ended", runId: active.runId, call: record });
    }
    active.pending.clear();
    if (active.inflight.size === 0) return;
    const { runId } = active;
    this.#lingering = runId;
    this.#log(
      "warn",
      `run ${runId} ended with ${active.inflight.size} skill(s) still in flight after their cancel: no run starts until they end`,
    );
    void Promise.allSettled([...active.inflight]).then(() => {
      if (this.#lingering === runId) this.#lingering = null;
    });
  }

  async #settleInflight(active: ActiveRun): Promise<void> {
    if (active.inflight.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...active.inflight]),
      new Promise((resolve) => timer = setTimeout(resolve, this.#cancelWaitMs)),
    ]);
    clearTimeout(timer);
  }

  /**
   * The outcome and failure label of a run, from facts only: the halt the
   * executor itself asked for, the engine's own errors (the sandbox checks
   * they are neither made up nor ever caught by the guest), and a skill's
   * label only when the guest threw the very SkillError the host raised for
   * a failed call (its code and message come from that call's record).
   */
  #judge(
    active: ActiveRun,
    result: SandboxResult,
    caps: Caps,
  ): {
    outcome: Outcome;
    failure: EvidenceRecord["failure"];
    checkRecords: CheckRecord[];
  } {
    const fail = (
      label: FailureLabel,
      message: string,
      line?: number | null,
    ) => ({
      outcome: (label === "estop" ? "stopped" : "failed") as Outcome,
      failure: { label, message: clip(message), ...(line ? { line } : {}) },
      checkRecords: result.kind === "done" ? result.checks : [],
    });
    switch (active.haltReason) {
      case HALT.estop:
        return fail("estop", `The run was stopped: ${active.haltMessage}`);
      case HALT.timeout:
        return fail("timeout", `The run was stopped: ${active.haltMessage}`);
      case HALT.budget:
        return fail(
          "budget_exceeded",
          `The run was stopped: ${active.haltMessage}`,
        );
    }
    if (result.kind === "killed") {
      return fail("program_error", "The sandbox was killed");
    }
    if (result.kind === "crashed") {
      if (/call stack|stack overflow/i.test(result.message)) {
        return fail(
          "stack_overflow",
          `The program recursed too deeply: ${result.message}`,
        );
      }
      if (/memory/i.test(result.message)) {
        return fail(
          "memory_exceeded",
          `The program exhausted memory: ${result.message}`,
        );
      }
      return fail("program_error", `The sandbox failed: ${result.message}`);
    }
    const { end, checks } = result;
    if (end.kind === "error") {
      if (end.interrupted) {
        return fail(
          "timeout",
          `The run passed its deadline of ${caps.timeoutMs} ms`,
          end.line,
        );
      }
      if (end.engine && /out of memory|string too long/.test(end.message)) {
        return fail(
          "memory_exceeded",
          `The program exceeded its memory limit of ${caps.memoryBytes} bytes`,
          end.line,
        );
      }
      if (end.engine && /stack overflow/.test(end.message)) {
        return fail(
          "stack_overflow",
          `The program recursed too deeply: ${end.message}`,
          end.line,
        );
      }
      // A skill failure's label only for the very SkillError the host
      // raised for that call, with that call's own code and message.
      const call = end.skillSeq ? active.bySeq.get(end.skillSeq) : undefined;
      if (call !== undefined && !call.ok && call.error !== undefined) {
        return fail(
          labelForSkillCode(call.error.code),
          `Uncaught SkillError (${call.error.code}): ${call.error.message}`,
          end.line,
        );
      }
      return fail(
        "program_error",
        `Uncaught ${end.name}: ${end.message}`,
        end.line,
      );
    }
    const failed = checks.filter((c) => !c.ok);
    if (failed.length > 0) {
      return {
        outcome: "failed",
        failure: {
          label: "postcondition_failed",
          message: clip(
            `The program ended but ${failed.length} of ${checks.length} check(s) failed: ${
              failed.map((c) => `${c.expr} (${c.message ?? "false"})`).join(
                "; ",
              )
            }`,
          ),
        },
        checkRecords: checks,
      };
    }
    return { outcome: "succeeded", failure: null, checkRecords: checks };
  }
}

/**
 * Longest argument JSON recorded as is in a call record; longer arguments
 * (which fail their schema anyway: `say` takes 2000 characters) are recorded
 * by size, so that a program cannot grow its evidence record by the megabyte
 * (1000 calls of 64 KiB each) past what gRPC and MQTT carry.
 */
const MAX_RECORDED_ARGS = 8192;

/**
 * A copy of plain data whose non-finite numbers are their names ("NaN",
 * "Infinity", "-Infinity"): the evidence is JSON, where they would read as null.
 */
function jsonSafe(value: unknown): unknown {
  if (typeof value === "number") {
    return Number.isFinite(value) ? value : String(value);
  }
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(out, key, {
        value: jsonSafe(item),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

/** Longest failure message kept in the evidence. */
const MAX_FAILURE_MESSAGE = 4096;

function clip(message: string): string {
  return message.length > MAX_FAILURE_MESSAGE
    ? `${message.slice(0, MAX_FAILURE_MESSAGE - 1)}…`
    : message;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
