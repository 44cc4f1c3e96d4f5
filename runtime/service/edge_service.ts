import {
  ClosedError,
  type SkillApi,
  type SkillBackend,
  TABLETOP_API,
  type WorldState,
} from "../../skills-bridge/mod.ts";
import {
  checkCommand,
  type EnvelopeCheck,
  type Manifest,
  type TrustStore,
} from "../../verifier/mod.ts";
import type { Caps } from "../executor/mod.ts";
import type {
  EvidenceRecord,
  FailureLabel,
  VerifierReport,
} from "../evidence/mod.ts";
import { cutText, sha256Hex } from "../evidence/mod.ts";
import { Executor, ExecutorBusyError, type RunEvent } from "../executor/mod.ts";
import type { ProgramCache, RunFilter, RunPage } from "./program_cache.ts";
import { VerifierPool } from "../executor/mod.ts";
import { buildRecord } from "../evidence/mod.ts";
import type { EvidenceJournal } from "./evidence_journal.ts";
import { EvidenceKeeper } from "./evidence_keeper.ts";
import type { ReplayState } from "./replay_state.ts";

/** Where the service sends evidence and run events (MQTT telemetry, logs). */
export interface EdgeSink {
  /** Durably queue one evidence record (the outbox); must not throw. */
  evidence?(record: EvidenceRecord): void;
  /** One event of a run (must not throw). */
  runEvent?(runId: string, event: RunEvent): void;
  /** The robot's state changed (must not throw). */
  state?(state: "online" | "running" | "stopped"): void;
}

/** Log function of the service. */
export type EdgeLog = (
  level: "debug" | "info" | "warn" | "error",
  message: string,
  data?: Record<string, unknown>,
) => void;

/** Options of {@linkcode EdgeService.create}. */
export interface EdgeServiceOptions {
  /** Id of this robot; envelopes must target it. */
  robotId: string;
  /** The skills backend programs drive. */
  backend: SkillBackend;
  /** The program cache (accepted programs, SQLite). */
  cache: ProgramCache;
  /** Keys whose signatures the robot accepts. */
  trustStore: TrustStore;
  /** The robot's caps; a program may lower them, never raise them. */
  caps: Caps;
  /** Tolerated clock difference when checking expiry, milliseconds; default 60 000. */
  clockSkewMs?: number;
  /** The robot's own skill API, used to verify again; default the tabletop API. */
  api?: SkillApi;
  /** Where evidence and run events go; default nowhere. */
  sink?: EdgeSink;
  /** Where the service tells what happens; default silent. */
  log?: EdgeLog;
  /** The clock (tests); default `() => new Date()`. */
  now?: () => Date;
  /** Replay protection (last accepted versions, nonces), apart from the cache; default the cache's own copy. */
  replay?: ReplayState;
  /** The write-ahead evidence journal; without it a crash mid-run leaves no record. */
  journal?: EvidenceJournal;
  /** Size bound of every record (MQTT, gRPC, local store): `evidence.maxBytes`. Default 262144. */
  evidenceMaxBytes?: number;
  /** Manifests valid for longer are refused (`lifetime_too_long`); `limits.maxManifestLifetimeDays`, default 90. */
  maxManifestLifetimeDays?: number;
}

/** What the robot made of a delivered envelope. */
export interface Receipt {
  /** Whether the program is now in the cache. */
  accepted: boolean;
  /** `""` when accepted; an envelope reason code or `verification_rejected`. */
  reason: string;
  /** What the robot made of it, in words. */
  message: string;
  /** Id of the delivered program. */
  programId: string;
  /** Version of the delivered program. */
  version: number;
  /** Hex SHA-256 of the envelope payload. */
  payloadSha256: string;
  /** Id of the key that signed it. */
  keyId: string;
  /** True when the same envelope had been accepted before. */
  idempotent: boolean;
  /** The robot's own verifier report of the program. */
  verifier: VerifierReport;
}

/** Thrown by `run` for a program that is not in the cache. */
export class ProgramNotFoundError extends Error {
  /** Creates the error naming the program. */
  constructor(programId: string, version?: number) {
    super(
      `Cannot run program "${programId}"${
        version ? ` version ${version}` : ""
      }: it is not in the cache`,
    );
    this.name = "ProgramNotFoundError";
  }
}

/** Thrown while the service is shutting down. */
export class ServiceClosedError extends ClosedError {
  /** Creates the error. */
  constructor() {
    super("the service", {
      action: "serve the request",
      state: "shutting down",
    });
    this.name = "ServiceClosedError";
  }
}

/**
 * Thrown when a call that moves the robot or releases its stop carries no
 * valid operator command: the call fails with `PERMISSION_DENIED` and
 * nothing happens.
 */
export class CommandRejectedError extends Error {
  /** `missing_command` or the command check's reason code. */
  readonly reason: string;
  /** Creates the error naming what was refused and why. */
  constructor(what: string, reason: string, message: string) {
    super(`Cannot ${what}: ${message}`);
    this.name = "CommandRejectedError";
    this.reason = reason;
  }
}

/** Thrown when the skills backend cannot take a run (the ROS 2 bridge is down). */
export class BackendUnavailableError extends Error {
  /** Creates the error naming why. */
  constructor(why: string) {
    super(`Cannot start a run: ${why}`);
    this.name = "BackendUnavailableError";
  }
}

/** Who asks for a run: a client (needs an operator command) or the robot's own schedule. */
export type RunOrigin = "client" | "schedule";

const EMPTY_REPORT: VerifierReport = { ok: true, issues: [] };

/**
 * The robot's edge service, independent of transport: checks deliveries
 * (envelope, trust, replay, target, its own verifier), keeps accepted
 * programs in the cache, runs them one at a time, and hands every evidence
 * record to its sink before answering.
 */
export class EdgeService implements AsyncDisposable {
  /** Id of this robot. */
  readonly robotId: string;
  readonly #executor: Executor;
  readonly #backend: SkillBackend;
  readonly #maxManifestLifetimeDays: number;
  /** Aborts the run in progress without latching the stop (see {@linkcode interrupt}). */
  #interruptible: AbortController | null = null;
  readonly #cache: ProgramCache;
  readonly #api: SkillApi;
  readonly #caps: Caps;
  readonly #clockSkewMs: number;
  readonly #sink: EdgeSink;
  readonly #log: EdgeLog;
  readonly #now: () => Date;
  readonly #replay: ReplayState | null;
  readonly #keeper: EvidenceKeeper;
  #trustStore: TrustStore;
  #closed = false;
  #checking: Promise<unknown> = Promise.resolve();
  readonly #verifierPool: VerifierPool;
  /**
   * Reports of programs verified since the service started, by payload
   * digest: a cached program is verified once, not on every run.
   */
  readonly #reports = new Map<string, VerifierReport>();
  /** Operator-command nonces when there is no replay state (tests). */
  #memoryNonces = new Map<string, number>();

  private constructor(
    options: EdgeServiceOptions,
    executor: Executor,
    verifierPool: VerifierPool,
  ) {
    this.#verifierPool = verifierPool;
    this.robotId = options.robotId;
    this.#executor = executor;
    this.#backend = options.backend;
    this.#maxManifestLifetimeDays = options.maxManifestLifetimeDays ?? 90;
    this.#cache = options.cache;
    this.#api = options.api ?? TABLETOP_API;
    this.#caps = options.caps;
    this.#clockSkewMs = options.clockSkewMs ?? 60_000;
    this.#trustStore = options.trustStore;
    this.#sink = options.sink ?? {};
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? (() => new Date());
    this.#replay = options.replay ?? null;
    this.#keeper = new EvidenceKeeper({
      store: this.#cache,
      queue: this.#sink.evidence?.bind(this.#sink),
      journal: options.journal ?? null,
      maxBytes: options.evidenceMaxBytes,
      log: this.#log,
      now: this.#now,
    });
  }

  /**
   * Creates the service and warms its sandbox; then finishes the runs a
   * crash left in the journal (outcome `failed`, label `interrupted`) and
   * hands them on like any other record.
   */
  static async create(options: EdgeServiceOptions): Promise<EdgeService> {
    const verifier = new VerifierPool({
      ...(options.api ? { api: options.api } : {}),
      log: (level, message) => options.log?.(level, message),
    });
    let service: EdgeService;
    try {
      const executor = await Executor.create({
        backend: options.backend,
        robotId: options.robotId,
        caps: options.caps,
        verifier,
        log: (level, message) => options.log?.(level, message),
        ...(options.api ? { api: options.api } : {}),
      });
      service = new EdgeService(options, executor, verifier);
    } catch (error) {
      verifier[Symbol.dispose]();
      throw error;
    }
    await service.#keeper.recover(options.backend);
    return service;
  }

  /** Sandbox hosts killed or retired and replaced since the start. */
  get sandboxRestarts(): number {
    return this.#executor.hostRestarts;
  }

  /** Process ids of the live sandbox hosts, the next run's first. */
  get sandboxPids(): number[] {
    return this.#executor.hostPids;
  }

  /** `running`, `stopped` (e-stop latched) or `online`. */
  get state(): "online" | "running" | "stopped" {
    if (this.#executor.stopReason !== null) return "stopped";
    return this.#executor.currentRunId !== null ? "running" : "online";
  }

  /** The run in progress, or `null`. */
  get currentRunId(): string | null {
    return this.#executor.currentRunId;
  }

  /**
   * Whether an operator-command nonce was seen before; when it was not, it
   * is recorded (durably in the replay state, until `expiresAt`) and this
   * returns false. Without a replay state: kept in memory only.
   */
  seenNonce(nonce: string, expiresAt: string | number | Date): boolean {
    if (this.#replay !== null) return this.#replay.seenNonce(nonce, expiresAt);
    const now = this.#now().getTime();
    const until = this.#memoryNonces.get(nonce);
    if (until !== undefined && until >= now) return true;
    this.#memoryNonces.set(nonce, new Date(expiresAt).getTime());
    return false;
  }

  /** Replaces the trust store (e.g. after the operator revoked a key). */
  setTrustStore(trustStore: TrustStore): void {
    this.#trustStore = trustStore;
  }

  /** Checks an envelope like `deliver` without storing or running it. */
  async validate(envelope: string | Uint8Array): Promise<Receipt> {
    this.#assertOpen();
    const { receipt } = await this.#check(envelope, { replay: true });
    return receipt;
  }

  /**
   * Checks and stores a delivered envelope; with `run`, runs it at once and
   * returns its evidence (also for a refused delivery: outcome `rejected`).
   */
  async deliver(
    envelope: string | Uint8Array,
    options: {
      run?: boolean;
      /** With `run`: the operator's command (DSSE envelope) for `run`. */
      command?: Uint8Array | string;
      signal?: AbortSignal;
      onEvent?: (event: RunEvent) => void;
    } = {},
  ): Promise<{ receipt: Receipt; evidence: EvidenceRecord | null }> {
    this.#assertOpen();
    if (options.run) this.#assertBackendReady();
    // Deliveries are checked and stored one at a time so that the replay
    // state cannot be raced by two deliveries of the same program.
    const checked = this.#serialize(() =>
      this.#check(envelope, { replay: true, store: true })
    );
    const { receipt, manifest, check } = await checked;
    if (receipt.accepted) {
      this.#log(
        "info",
        `accepted program "${receipt.programId}" v${receipt.version}`,
        {
          programId: receipt.programId,
          version: receipt.version,
          keyId: receipt.keyId,
          idempotent: receipt.idempotent,
        },
      );
    } else {
      this.#log(
        "warn",
        `refused a delivery: ${receipt.reason}: ${receipt.message}`,
        {
          reason: receipt.reason,
          ...(receipt.programId === ""
            ? {}
            : { programId: receipt.programId, version: receipt.version }),
        },
      );
    }
    if (!options.run) return { receipt, evidence: null };
    if (!receipt.accepted || manifest === null || check === null) {
      const evidence = await this.#rejected(
        envelope,
        manifest,
        receipt,
        options.onEvent,
      );
      return { receipt, evidence };
    }
    await this.#authorize("run", options.command, {
      command: "run",
      programId: manifest.programId,
      version: manifest.version,
    });
    if (this.#executor.currentRunId !== null) {
      throw new ExecutorBusyError(this.#executor.currentRunId);
    }
    const evidence = await this.#runManifest(manifest, check, options);
    return { receipt, evidence };
  }

  /**
   * Runs a cached program (offline: no network needed). The envelope is
   * re-checked against the current trust store and clock when loaded.
   * Throws when it cannot start: not cached, busy, e-stop latched.
   */
  async run(
    programId: string,
    options: {
      version?: number;
      /** The operator's command (DSSE envelope) for `run`; not needed for the robot's own schedule. */
      command?: Uint8Array | string;
      /** `schedule`: the robot's own configuration asks (no command needed). Default `client`. */
      origin?: RunOrigin;
      signal?: AbortSignal;
      onEvent?: (event: RunEvent) => void;
    } = {},
  ): Promise<EvidenceRecord> {
    this.#assertOpen();
    this.#assertBackendReady();
    const cached = this.#cache.get(programId, options.version);
    if (cached === undefined) {
      throw new ProgramNotFoundError(programId, options.version);
    }
    if (options.origin !== "schedule") {
      await this.#authorize("run", options.command, {
        command: "run",
        programId,
        version: cached.version,
      });
    }
    if (this.#executor.currentRunId !== null) {
      throw new ExecutorBusyError(this.#executor.currentRunId);
    }
    // Only the newest accepted version runs: an older cached one (recalled
    // by a newer delivery) is refused as superseded.
    const { receipt, manifest, check } = await this.#check(cached.envelope, {
      replay: false,
      purpose: "run",
    });
    if (!receipt.accepted || manifest === null || check === null) {
      this.#log(
        "warn",
        `refused to run cached program "${programId}": ${receipt.message}`,
        { programId, reason: receipt.reason },
      );
      return await this.#rejected(
        cached.envelope,
        manifest,
        receipt,
        options.onEvent,
      );
    }
    return await this.#runManifest(manifest, check, options);
  }

  /**
   * Ends the run in progress (outcome `stopped`, with `reason`) without
   * latching the emergency stop: for a backend that lost its robot (the
   * ROS 2 bridge died); new runs are refused while the backend is down.
   */
  interrupt(reason: string): void {
    const run = this.#interruptible;
    if (run === null) return;
    this.#log("warn", `interrupting run ${this.currentRunId}: ${reason}`, {
      runId: this.currentRunId,
    });
    const error = new Error(reason);
    error.name = "RunInterrupted";
    run.abort(error);
  }

  /** Emergency stop; resolves once the guest halted and skills were cancelled. */
  async stop(reason = "emergency stop"): Promise<{ runId: string | null }> {
    // Anyone who reaches the port may stop the robot, with any reason: it
    // is kept short before it is logged, latched and answered with.
    reason = shortReason(reason);
    const runId = this.#executor.currentRunId;
    this.#log("warn", `emergency stop: ${reason}`, { runId });
    const started = performance.now();
    const stopping = this.#executor.stop(reason);
    this.#sink.state?.("stopped");
    await stopping;
    this.#log("info", "emergency stop done", {
      runId,
      stopMs: Math.round((performance.now() - started) * 1000) / 1000,
    });
    return { runId };
  }

  /**
   * Allows runs again; returns whether the e-stop was latched. A client
   * needs an operator's command for `resume`.
   */
  async resume(
    options: { command?: Uint8Array | string; origin?: RunOrigin } = {},
  ): Promise<boolean> {
    if (options.origin !== "schedule") {
      await this.#authorize("resume", options.command, { command: "resume" });
    }
    const was = this.#executor.stopReason !== null;
    this.#executor.resume();
    if (was) {
      this.#log("info", "resumed after emergency stop");
      this.#sink.state?.("online");
    }
    return was;
  }

  /** The newest version of every cached program. */
  list(): ReturnType<ProgramCache["list"]> {
    return this.#cache.list();
  }

  /** Runs in the local evidence store, newest first (see {@linkcode ProgramCache.prototype.listRuns}). */
  listRuns(filter: RunFilter = {}): RunPage {
    this.#assertOpen();
    return this.#cache.listRuns(filter);
  }

  /** One run's evidence record from the local store, or `undefined`. */
  getEvidence(runId: string): EvidenceRecord | undefined {
    this.#assertOpen();
    return this.#cache.getEvidence(runId);
  }

  /** The backend's current world estimate (`null` when it has none), and the robot's state. */
  async getWorld(
    options: { signal?: AbortSignal } = {},
  ): Promise<
    { world: WorldState | null; state: EdgeService["state"]; at: string }
  > {
    this.#assertOpen();
    const world = await this.#backend.world(options);
    return { world, state: this.state, at: this.#now().toISOString() };
  }

  /** Stops what runs (safely, through the e-stop path) and closes the executor. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#executor[Symbol.asyncDispose]();
    this.#verifierPool[Symbol.dispose]();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ServiceClosedError();
  }

  /** Refuses a run while the backend says it cannot take one (a ROS 2 bridge that is down). */
  #assertBackendReady(): void {
    const backend = this.#backend as SkillBackend & { connected?: boolean };
    if (backend.connected === false) {
      throw new BackendUnavailableError(
        `the ${backend.kind} backend is not connected (the ROS 2 bridge is down or starting); try again once it is back`,
      );
    }
  }

  /**
   * Checks an operator command for what a call is about to do; refuses
   * (and logs why) a missing or invalid one. Stopping never needs one.
   */
  async #authorize(
    what: "run" | "resume",
    command: Uint8Array | string | undefined,
    expect: { command: "run" | "resume"; programId?: string; version?: number },
  ): Promise<void> {
    const doing = what === "run"
      ? `run program "${expect.programId}"`
      : "resume after the emergency stop";
    const refuse = (reason: string, message: string): never => {
      this.#log("warn", `refused to ${doing}: ${reason}: ${message}`, {
        reason,
        programId: expect.programId ?? null,
        version: expect.version ?? null,
      });
      throw new CommandRejectedError(doing, reason, message);
    };
    if (command === undefined || command.length === 0) {
      refuse(
        "missing_command",
        "the call carries no operator command (sign one with a key that has the operator role: --operator-key)",
      );
    }
    const check = await checkCommand(command!, {
      trustStore: this.#trustStore,
      robotId: this.robotId,
      now: this.#now(),
      clockSkewMs: this.#clockSkewMs,
      seenNonce: (nonce, expiresAt) => this.seenNonce(nonce, expiresAt),
      expect,
    });
    if (!check.ok) refuse(check.reason, check.message);
    this.#log("info", `operator command "${what}" accepted`, {
      keyId: (check as { keyId: string }).keyId,
      programId: expect.programId ?? null,
      version: expect.version ?? null,
    });
  }

  #serialize<T>(job: () => Promise<T>): Promise<T> {
    const next = this.#checking.then(job, job);
    this.#checking = next.catch(() => {});
    return next;
  }

  async #check(
    envelope: string | Uint8Array,
    options: { replay: boolean; store?: boolean; purpose?: "deliver" | "run" },
  ): Promise<
    {
      receipt: Receipt;
      manifest: Manifest | null;
      check: Extract<EnvelopeCheck, { ok: true }> | null;
    }
  > {
    // A large envelope is read and its signature checked in the verifier's
    // worker: parsing 90 KB strictly would hold up the event loop for ms.
    const check = await this.#verifierPool.checkEnvelope(envelope, {
      trustStore: this.#trustStore,
      robotId: this.robotId,
      now: this.#now(),
      clockSkewMs: this.#clockSkewMs,
      apiVersion: this.#api.version,
      caps: this.#caps,
      limits: { maxManifestLifetimeDays: this.#maxManifestLifetimeDays },
      ...(options.purpose ? { purpose: options.purpose } : {}),
      ...(options.replay || options.purpose === "run"
        ? {
          lastAccepted: (id: string) =>
            (this.#replay ?? this.#cache).lastAccepted(id),
        }
        : {}),
    });
    if (!check.ok) {
      return {
        receipt: {
          accepted: false,
          reason: check.reason,
          message: check.message,
          programId: "",
          version: 0,
          payloadSha256: "",
          keyId: "",
          idempotent: false,
          verifier: EMPTY_REPORT,
        },
        manifest: null,
        check: null,
      };
    }
    const { manifest } = check;
    const verifier = this.#reports.get(check.payloadSha256) ??
      await this.#verifierPool.verify(manifest.source, manifest.checks);
    if (verifier.ok) {
      if (this.#reports.size >= 1000) this.#reports.clear();
      this.#reports.set(check.payloadSha256, verifier);
    }
    const receipt: Receipt = {
      accepted: verifier.ok,
      reason: verifier.ok ? "" : "verification_rejected",
      message: verifier.ok
        ? `Accepted program "${manifest.programId}" version ${manifest.version}`
        : `Cannot accept program "${manifest.programId}": the robot's verifier found ${verifier.issues.length} issue(s): ${
          verifier.issues.slice(0, 3).map((i) =>
            `${i.code} at ${i.line}:${i.column}`
          ).join(", ")
        }`,
      programId: manifest.programId,
      version: manifest.version,
      payloadSha256: check.payloadSha256,
      keyId: check.keyId,
      idempotent: check.idempotent,
      verifier,
    };
    if (verifier.ok && options.store) {
      this.#cache.accept({
        programId: manifest.programId,
        version: manifest.version,
        payloadSha256: check.payloadSha256,
        sourceSha256: await sha256Hex(manifest.source),
        keyId: check.keyId,
        instruction: manifest.instruction,
        acceptedAt: this.#now().toISOString(),
        expiresAt: manifest.expiresAt,
        envelope: typeof envelope === "string"
          ? envelope
          : new TextDecoder().decode(envelope),
      });
      this.#replay?.accept(manifest.programId, {
        version: manifest.version,
        payloadSha256: check.payloadSha256,
      });
    }
    return { receipt, manifest, check: verifier.ok ? check : null };
  }

  async #runManifest(
    manifest: Manifest,
    { keyId, payloadSha256 }: { keyId: string; payloadSha256: string },
    options: { signal?: AbortSignal; onEvent?: (event: RunEvent) => void },
  ): Promise<EvidenceRecord> {
    // Again here, with no await before the executor takes the run: two
    // calls that both passed the first check (each awaited its checks
    // since) must not both get here, or the refused one's handle would
    // replace the running one's and nothing could interrupt it.
    if (this.#executor.currentRunId !== null) {
      throw new ExecutorBusyError(this.#executor.currentRunId);
    }
    this.#sink.state?.("running");
    const verified = this.#reports.get(payloadSha256);
    const interruptible = new AbortController();
    this.#interruptible = interruptible;
    const signal = options.signal
      ? AbortSignal.any([options.signal, interruptible.signal])
      : interruptible.signal;
    let kept: EvidenceRecord | null = null;
    try {
      const raw = await this.#executor.run({
        source: manifest.source,
        instruction: manifest.instruction,
        checks: manifest.checks,
        budgets: manifest.budgets,
        programId: manifest.programId,
        version: manifest.version,
        keyId,
        ...(verified ? { verified } : {}),
      }, {
        signal,
        onEvent: (event) => {
          const out = this.#keeper.event(event);
          if (out.type === "run_ended") kept = out.evidence;
          this.#sink.runEvent?.(out.runId, out);
          options.onEvent?.(out);
        },
      });
      const evidence: EvidenceRecord = kept ?? this.#keep(raw);
      this.#log(
        evidence.outcome === "succeeded" ? "info" : "warn",
        `run ${evidence.runId} of "${manifest.programId}" v${manifest.version}: ${evidence.outcome}${
          evidence.failure
            ? ` (${evidence.failure.label}: ${evidence.failure.message})`
            : ""
        }`,
        {
          runId: evidence.runId,
          programId: manifest.programId,
          version: manifest.version,
          outcome: evidence.outcome,
          label: evidence.failure?.label ?? null,
        },
      );
      return evidence;
    } finally {
      if (this.#interruptible === interruptible) this.#interruptible = null;
      this.#sink.state?.(this.state);
    }
  }

  /** Keeps a record (bounded, journaled, outbox, local store): see `EvidenceKeeper`. */
  #keep(raw: EvidenceRecord): EvidenceRecord {
    return this.#keeper.keep(raw);
  }

  async #rejected(
    envelope: string | Uint8Array,
    manifest: Manifest | null,
    receipt: Receipt,
    onEvent?: (event: RunEvent) => void,
  ): Promise<EvidenceRecord> {
    const now = this.#now().toISOString();
    const source = manifest?.source ?? "";
    const label: FailureLabel = receipt.reason === "verification_rejected"
      ? "verification_rejected"
      : "envelope_rejected";
    const firstLine = receipt.verifier.issues[0]?.line;
    const built = buildRecord({
      runId: crypto.randomUUID(),
      robotId: this.robotId,
      startedAt: now,
      program: {
        sha256: await sha256Hex(source),
        source,
        instruction: manifest?.instruction ?? null,
        programId: manifest?.programId ?? null,
        version: manifest?.version ?? null,
        keyId: receipt.keyId || null,
      },
      verifier: receipt.verifier,
      worldBefore: null,
      limits: {
        memoryLimitBytes: this.#caps.memoryBytes,
        timeoutMs: this.#caps.timeoutMs,
      },
    }, {
      endedAt: now,
      worldAfter: null,
      calls: [],
      checks: [],
      outcome: "rejected",
      failure: {
        label,
        message: label === "envelope_rejected"
          ? `${receipt.reason}: ${receipt.message}`
          : receipt.message,
        ...(firstLine ? { line: firstLine } : {}),
      },
      wallMs: 0,
    });
    void envelope;
    const evidence = this.#keep(built);
    this.#log(
      "warn",
      `run ${evidence.runId}: rejected (${evidence.failure?.label})`,
      {
        runId: evidence.runId,
        programId: evidence.program.programId,
        version: evidence.program.version,
        outcome: evidence.outcome,
        label: evidence.failure?.label ?? null,
      },
    );
    onEvent?.({ type: "run_ended", runId: evidence.runId, evidence });
    return evidence;
  }
}

/** The longest stop reason kept, characters; the rest is cut off and counted. */
const MAX_STOP_REASON_CHARS = 500;

function shortReason(reason: string): string {
  return cutText(reason, MAX_STOP_REASON_CHARS);
}
