import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import type { Caps } from "../runtime/executor/mod.ts";
import { Executor } from "../runtime/executor/mod.ts";
import type {
  InvokeOptions,
  Scene,
  SkillApi,
  SkillBackend,
  SkillOutcome,
  WorldState,
} from "../skills-bridge/mod.ts";
import { ClosedError, SimBackend } from "../skills-bridge/mod.ts";

/** Options for one dry-run. */
export interface DryRunOptions {
  /** The simulated world to run in. */
  scene: Scene;
  /** The instruction the program was written for, kept in the evidence. */
  instruction?: string | null;
  /** Postconditions: JavaScript expressions over the query skills. */
  checks?: readonly string[];
  /** Aborting halts the dry-run. */
  signal?: AbortSignal;
}

/** Options for {@linkcode DryRunner.create}. */
export interface DryRunnerOptions {
  /** The skill API; default the tabletop API. */
  api?: SkillApi;
  /** Caps of the dry-runs; default the executor's. */
  caps?: Partial<Caps>;
  /** Multiplies `wait` and skill latencies of the simulator. Default 0: a dry-run does not wait. */
  timeScale?: number;
}

/** Thrown when a disposed {@linkcode DryRunner} is used. */
export class DryRunnerDisposedError extends ClosedError {
  /** Creates the error. */
  constructor() {
    super("the dry-runner", { action: "dry-run", state: "disposed" });
    this.name = "DryRunnerDisposedError";
  }
}

/** A backend that forwards to the simulator of the current dry-run. */
class _SwitchBackend implements SkillBackend {
  readonly kind = "sim";
  current: SimBackend | null = null;

  invoke(
    skill: string,
    args: readonly unknown[],
    options?: InvokeOptions,
  ): Promise<SkillOutcome> {
    if (this.current === null) {
      return Promise.resolve({
        ok: false,
        error: {
          code: "backend_error",
          message: `Cannot run ${skill}: no dry-run is in progress`,
        },
      });
    }
    return this.current.invoke(skill, args, options);
  }

  world(options?: { signal?: AbortSignal }): Promise<WorldState | null> {
    return this.current?.world(options) ?? Promise.resolve(null);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.current?.[Symbol.asyncDispose]();
    this.current = null;
  }
}

/**
 * Dry-runs programs in the simulator with one warm executor (a QuickJS
 * worker) for many runs, each on a fresh simulator of its scene: the cloud's
 * check before signing. Runs one program at a time.
 */
export class DryRunner implements AsyncDisposable {
  readonly #backend: _SwitchBackend;
  readonly #executor: Executor;
  readonly #timeScale: number;
  #disposed = false;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    backend: _SwitchBackend,
    executor: Executor,
    timeScale: number,
  ) {
    this.#backend = backend;
    this.#executor = executor;
    this.#timeScale = timeScale;
  }

  /** Starts the executor (this takes a moment: the QuickJS worker warms up). */
  static async create(options: DryRunnerOptions = {}): Promise<DryRunner> {
    const backend = new _SwitchBackend();
    const executor = await Executor.create({
      backend,
      robotId: "dry-run",
      ...(options.api === undefined ? {} : { api: options.api }),
      ...(options.caps === undefined ? {} : { caps: options.caps }),
    });
    return new DryRunner(backend, executor, options.timeScale ?? 0);
  }

  /** Runs `source` once on a fresh simulator of `options.scene`; resolves with the evidence. */
  run(source: string, options: DryRunOptions): Promise<EvidenceRecord> {
    if (this.#disposed) return Promise.reject(new DryRunnerDisposedError());
    const next = this.#queue.then(() => this.#run(source, options));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #run(source: string, options: DryRunOptions): Promise<EvidenceRecord> {
    if (this.#disposed) throw new DryRunnerDisposedError();
    const sim = new SimBackend(options.scene, { timeScale: this.#timeScale });
    this.#backend.current = sim;
    try {
      return await this.#executor.run({
        source,
        instruction: options.instruction ?? null,
        checks: options.checks ?? [],
      }, options.signal === undefined ? {} : { signal: options.signal });
    } finally {
      this.#backend.current = null;
      await sim[Symbol.asyncDispose]();
    }
  }

  /** Stops the executor's worker. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#queue;
    await this.#executor[Symbol.asyncDispose]();
    await this.#backend[Symbol.asyncDispose]();
  }
}
