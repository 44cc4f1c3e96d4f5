import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import type { RobotTarget } from "./robot_commander.ts";

/** What one repair ended with (from the repair loop, the signer and the delivery). */
export interface RepairOutcome {
  /** Repaired, signed and delivered (and with `run`, the run succeeded). */
  ok: boolean;
  /** Attempts of the repair loop. */
  attempts: number;
  /** The signed repair's program id, or null when nothing was signed. */
  programId: string | null;
  /** The signed repair's version, or null. */
  version: number | null;
  /** The repaired program, or the last candidate, or null. */
  source: string | null;
  /** The robot's answer to the delivery (receipt, run outcome), or null when nothing was delivered. */
  delivery: string | null;
  /** With `run`: the id of the run of the repair on the robot, or null. */
  deliveredRunId: string | null;
  /** Why it did not succeed, or null. */
  error: string | null;
}

/**
 * What repairs a recorded run and delivers the repair to its robot (the
 * console wires the synthesis loop in; tests may wire anything real).
 */
export interface RunRepairer {
  /** Repairs `record`'s run and delivers the signed repair to `target`; with `run`, runs it there. */
  repair(
    record: EvidenceRecord,
    target: RobotTarget,
    options: { run: boolean; signal: AbortSignal },
  ): Promise<RepairOutcome>;
}

/** A repair job as `GET /api/repairs/<id>` shows it. */
export interface RepairJob extends Partial<RepairOutcome> {
  /** The job's id. */
  id: string;
  /** The run being repaired. */
  runId: string;
  /** Its robot (where the repair is delivered). */
  robotId: string;
  /** `running` until it ends, then `succeeded` or `failed`. */
  state: "running" | "succeeded" | "failed";
  /** When the job started (ISO 8601). */
  startedAt: string;
  /** When it ended, or null. */
  endedAt: string | null;
}

/** Options of {@linkcode RepairJobs}. */
export interface RepairJobsOptions {
  /** Repairs running at once across the fleet (one per robot always). Default 4. */
  maxRunning?: number | undefined;
  /** Finished jobs kept for `GET /api/repairs/<id>`. Default 100. */
  keep?: number | undefined;
}

/** Why a repair was not started: another one runs for that robot, or too many run. */
export class RepairBusyError extends Error {
  /** HTTP status for the API's answer. */
  readonly status: 409 | 503;
  /** The job that holds the robot, or null. */
  readonly jobId: string | null;

  /** Creates the error. */
  constructor(message: string, status: 409 | 503, jobId: string | null) {
    super(message);
    this.name = "RepairBusyError";
    this.status = status;
    this.jobId = jobId;
  }
}

/**
 * The console's repair jobs, in memory: at most one per robot and
 * `maxRunning` at once; each runs in the background and is polled by id.
 * Closing aborts the running ones and waits for them.
 */
export class RepairJobs implements AsyncDisposable {
  readonly #repairer: RunRepairer;
  readonly #maxRunning: number;
  readonly #keep: number;
  readonly #jobs = new Map<string, RepairJob>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #closing = new AbortController();

  /** Repairs with `repairer`. */
  constructor(repairer: RunRepairer, options: RepairJobsOptions = {}) {
    this.#repairer = repairer;
    this.#maxRunning = options.maxRunning ?? 4;
    this.#keep = options.keep ?? 100;
  }

  /**
   * Starts repairing `record`'s run for `target`; returns the job at once.
   * Throws a {@linkcode RepairBusyError} when a repair for that robot is
   * running, or `maxRunning` are.
   */
  start(
    record: EvidenceRecord,
    target: RobotTarget,
    options: { run?: boolean } = {},
  ): RepairJob {
    if (this.#closing.signal.aborted) {
      throw new RepairBusyError(
        "Cannot start a repair: the console is shutting down",
        503,
        null,
      );
    }
    const holding = [...this.#jobs.values()].find((j) =>
      j.state === "running" && j.robotId === target.robotId
    );
    if (holding !== undefined) {
      throw new RepairBusyError(
        `Cannot repair run "${record.runId}": repair ${holding.id} of run "${holding.runId}" is still running for robot "${target.robotId}"`,
        409,
        holding.id,
      );
    }
    if (this.#running.size >= this.#maxRunning) {
      throw new RepairBusyError(
        `Cannot repair run "${record.runId}": ${this.#running.size} repairs are running, the most the console runs at once`,
        503,
        null,
      );
    }
    const job: RepairJob = {
      id: crypto.randomUUID(),
      runId: record.runId,
      robotId: target.robotId,
      state: "running",
      startedAt: new Date().toISOString(),
      endedAt: null,
    };
    this.#jobs.set(job.id, job);
    this.#forgetOld();
    const done = (async () => {
      try {
        const outcome = await this.#repairer.repair(record, target, {
          run: options.run === true,
          signal: this.#closing.signal,
        });
        Object.assign(job, outcome, {
          state: outcome.ok ? "succeeded" : "failed",
        });
      } catch (error) {
        job.state = "failed";
        job.error = error instanceof Error ? error.message : String(error);
      } finally {
        job.endedAt = new Date().toISOString();
        this.#running.delete(job.id);
      }
    })();
    this.#running.set(job.id, done);
    return { ...job };
  }

  /** A copy of the job `id`, or null when unknown (or long forgotten). */
  get(id: string): RepairJob | null {
    const job = this.#jobs.get(id);
    return job === undefined ? null : { ...job };
  }

  /** The job `id` once it has ended (at once when it already has); null when unknown. */
  async settled(id: string): Promise<RepairJob | null> {
    await this.#running.get(id);
    return this.get(id);
  }

  /** Every kept job, newest first. */
  list(): RepairJob[] {
    return [...this.#jobs.values()].reverse().map((j) => ({ ...j }));
  }

  /** Aborts the running repairs and waits until they ended. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all(this.#running.values());
  }

  /** Same as {@linkcode close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #forgetOld(): void {
    for (const [id, job] of this.#jobs) {
      if (this.#jobs.size <= this.#keep) return;
      if (job.state !== "running") this.#jobs.delete(id);
    }
  }
}
