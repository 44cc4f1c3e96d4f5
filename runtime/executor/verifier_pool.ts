import type { SkillApi } from "../../skills-bridge/mod.ts";
import { ClosedError, TABLETOP_API } from "../../skills-bridge/mod.ts";
import type { VerifierReport } from "../evidence/mod.ts";
import { verifyRun } from "./verify_run.ts";

/** Options of a {@linkcode VerifierPool}. */
export interface VerifierPoolOptions {
  /**
   * A source the verifier cannot check within this bound is refused
   * `too_complex`; default 5000 ms (the verifier's own work budget refuses
   * hostile sources long before; this bound is the backstop).
   */
  timeoutMs?: number;
  /** The skill API; a worker serves only the tabletop API, any other is verified inline. */
  api?: SkillApi;
  /**
   * Sources (program and checks together) up to this many characters are
   * verified at once on the calling thread: at most about 1.5 ms even for a
   * hostile one, less than the trip to the worker costs. Default 4096.
   */
  inlineChars?: number;
}

interface Job {
  id: number;
  source: string;
  checks: string[];
  resolve: (report: VerifierReport) => void;
  reject: (error: Error) => void;
}

/** Thrown when a verifier pool is used after it was disposed. */
export class VerifierPoolClosedError extends ClosedError {
  /** Creates the error. */
  constructor() {
    super("the verifier pool", { action: "verify", state: "disposed" });
    this.name = "VerifierPoolClosedError";
  }
}

/**
 * Verifies programs in a worker, one at a time, so that the core's event
 * loop never waits on the verifier (a 64 KiB program takes a couple of
 * hundred milliseconds). A job that passes its time bound ends its worker
 * (a fresh one takes the next job) and gets a `too_complex` report.
 *
 * @example
 * ```ts ignore
 * using pool = new VerifierPool();
 * const report = await pool.verify('pick("red_block")', []);
 * ```
 */
export class VerifierPool implements Disposable {
  readonly #timeoutMs: number;
  readonly #api: SkillApi;
  readonly #inlineChars: number;
  readonly #queue: Job[] = [];
  #worker: Worker | null = null;
  /** The worker has loaded the verifier: the clock of a job starts then. */
  #workerReady = false;
  #current: Job | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 0;
  #disposed = false;

  /** Creates the pool; its worker starts with the first job. */
  constructor(options: VerifierPoolOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#api = options.api ?? TABLETOP_API;
    this.#inlineChars = options.inlineChars ?? 4096;
    // Warm: the first delivery does not wait for the verifier to load.
    if (this.#api === TABLETOP_API) this.#worker = this.#spawn();
  }

  /** The verifier report of `source` and its postconditions. */
  verify(source: string, checks: readonly string[]): Promise<VerifierReport> {
    if (this.#disposed) return Promise.reject(new VerifierPoolClosedError());
    const chars = checks.reduce((n, c) => n + c.length, source.length);
    if (this.#api !== TABLETOP_API || chars <= this.#inlineChars) {
      try {
        return Promise.resolve(verifyRun(source, checks, this.#api));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const { promise, resolve, reject } = Promise.withResolvers<
      VerifierReport
    >();
    this.#queue.push({
      id: this.#nextId++,
      source,
      checks: [...checks],
      resolve,
      reject,
    });
    this.#pump();
    return promise;
  }

  /** Ends the worker; queued jobs are refused. */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearTimeout(this.#timer);
    this.#worker?.terminate();
    this.#worker = null;
    for (const job of [this.#current, ...this.#queue]) {
      job?.reject(new VerifierPoolClosedError());
    }
    this.#current = null;
    this.#queue.length = 0;
  }

  #spawn(): Worker {
    const worker = new Worker(
      new URL("./_verify_worker.ts", import.meta.url),
      { type: "module" },
    );
    worker.onmessage = (
      event: MessageEvent<
        { id?: number; report?: VerifierReport; error?: string }
      >,
    ) => {
      if (event.data.id === undefined) {
        this.#workerReady = true;
        this.#arm();
        return;
      }
      const job = this.#current;
      if (job === null || event.data.id !== job.id) return;
      clearTimeout(this.#timer);
      this.#current = null;
      if (event.data.report) job.resolve(event.data.report);
      else {
        job.reject(
          new Error(`Cannot verify the program: ${event.data.error}`),
        );
      }
      this.#pump();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(`the verifier worker failed: ${event.message}`);
    };
    return worker;
  }

  #pump(): void {
    if (this.#current !== null || this.#disposed) return;
    const job = this.#queue.shift();
    if (job === undefined) return;
    this.#current = job;
    if (this.#worker === null) {
      this.#workerReady = false;
      this.#worker = this.#spawn();
    }
    this.#worker.postMessage({
      id: job.id,
      source: job.source,
      checks: job.checks,
    });
    this.#arm();
  }

  /** Starts the current job's clock once the worker is ready. */
  #arm(): void {
    if (!this.#workerReady || this.#current === null) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      // Plain JavaScript: terminating the worker stops it at once.
      this.#worker?.terminate();
      this.#worker = null;
      const current = this.#current;
      this.#current = null;
      current?.resolve(tooComplex(this.#timeoutMs));
      this.#pump();
    }, this.#timeoutMs);
  }

  #fail(message: string): void {
    clearTimeout(this.#timer);
    this.#worker?.terminate();
    this.#worker = null;
    const job = this.#current;
    this.#current = null;
    job?.reject(new Error(`Cannot verify the program: ${message}`));
    this.#pump();
  }
}

function tooComplex(timeoutMs: number): VerifierReport {
  return {
    ok: false,
    issues: [{
      code: "too_complex",
      message:
        `Cannot verify the program within ${timeoutMs} ms: it is beyond what the verifier checks in its time bound`,
      line: 1,
      column: 1,
    }],
  };
}
