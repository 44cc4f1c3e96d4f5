import type { SkillApi } from "../../skills-bridge/mod.ts";
import { ClosedError, TABLETOP_API } from "../../skills-bridge/mod.ts";
import {
  type CatchSite,
  checkEnvelope,
  DEFAULT_ENVELOPE_MAX_BYTES,
  type EnvelopeCheck,
  type EnvelopeCheckOptions,
  type EnvelopeOffloadOptions,
} from "../../verifier/mod.ts";
import type { VerifierReport } from "../evidence/mod.ts";
import { verifyRun } from "./verify_run.ts";
import type { _VerifyJob, _VerifyReply } from "./_verify_worker.ts";

/** Options of a {@linkcode VerifierPool}. */
export interface VerifierPoolOptions {
  /**
   * A source the verifier cannot check within this bound is refused
   * `too_complex`, an envelope whose checks take longer is refused
   * `malformed_envelope`; default 5000 ms (the verifier's own work budget
   * refuses hostile sources long before; this bound is the backstop).
   */
  timeoutMs?: number;
  /** The skill API; a worker serves only the tabletop API, any other is verified inline. */
  api?: SkillApi;
  /**
   * Sources (program and checks together) up to this many characters, with
   * at most 16 checks, are verified at once on the calling thread, within a
   * small work bound (a source that needs more is verified in the worker):
   * a few milliseconds at most, usually less than the trip to the worker
   * costs. Default 4096.
   */
  inlineChars?: number;
  /**
   * Envelopes up to this many bytes (characters of JSON text) are checked
   * on the calling thread; larger ones are read, parsed and their
   * signature checked in the worker (a 90 KB envelope costs the thread that
   * reads it about 3 ms). Default 4096.
   */
  inlineEnvelopeBytes?: number;
  /**
   * Told each time a worker is ready: the priority it runs at (`info`), or
   * why it could not lower it (`warn`: it then competes with the core's
   * event loop for the CPU). Default: nothing.
   */
  log?: (level: "info" | "warn", message: string) => void;
}

type Job =
  & { id: number; reject: (error: Error) => void }
  & (
    | {
      kind: "verify";
      source: string;
      checks: string[];
      resolve: (report: VerifierReport, catchSites: CatchSite[]) => void;
    }
    | {
      kind: "envelope";
      envelope: unknown;
      options: EnvelopeOffloadOptions;
      resolve: (check: EnvelopeCheck) => void;
    }
  );

/**
 * The work bound, in verifier steps, of a source verified on the calling
 * thread: an accepted 2 KB program takes about 900 steps (1–2 ms on the
 * build machine), and the costliest steps found, string patterns built from
 * computed keys, about 3 µs each. A short source that needs more is verified
 * in the worker instead: the calling thread, the core's event loop, never
 * spends more than a few milliseconds on one.
 */
const INLINE_MAX_STEPS = 3_000;

/** The most checks a source verified on the calling thread may carry (each costs a parse). */
const INLINE_MAX_CHECKS = 16;

/**
 * How many accepted sources' catch sites a pool keeps: more than the
 * programs a robot runs in turn (the service keeps their reports, and runs
 * them without verifying again).
 */
const CATCH_SITES_KEPT = 64;

/** Thrown when a verifier pool is used after it was disposed. */
export class VerifierPoolClosedError extends ClosedError {
  /** Creates the error; `action` is what could not be done (default `"verify"`). */
  constructor(action = "verify") {
    super("the verifier pool", { action, state: "disposed" });
    this.name = "VerifierPoolClosedError";
  }
}

/**
 * Verifies programs and checks large signed envelopes in a worker, one job
 * at a time, so that the core's event loop never waits on the verifier (a
 * 64 KiB program takes a couple of hundred milliseconds, reading its 90 KB
 * envelope a few). A job that passes its time bound ends its worker (a
 * fresh one takes the next job) and gets a `too_complex` report or a
 * `malformed_envelope` refusal.
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
  readonly #inlineEnvelopeBytes: number;
  readonly #log: NonNullable<VerifierPoolOptions["log"]>;
  readonly #queue: Job[] = [];
  #worker: Worker | null = null;
  /** The worker has loaded the verifier: the clock of a job starts then. */
  #workerReady = false;
  #workerNice: { nice: number } | { error: string } | null = null;
  #current: Job | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 0;
  #disposed = false;
  /** The catch sites of the sources accepted last, most recent last. */
  readonly #catchSites = new Map<string, readonly CatchSite[]>();

  /** Creates the pool; its worker starts with the first job. */
  constructor(options: VerifierPoolOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#api = options.api ?? TABLETOP_API;
    this.#inlineChars = options.inlineChars ?? 4096;
    this.#inlineEnvelopeBytes = options.inlineEnvelopeBytes ?? 4096;
    this.#log = options.log ?? (() => {});
    // Warm: the first delivery does not wait for the verifier to load.
    if (this.#api === TABLETOP_API) this.#worker = this.#spawn();
  }

  /**
   * The worker thread's priority once it has loaded: the nice value it
   * lowered itself to, or why it could not (the process lacks
   * `--allow-sys=setPriority`; it then runs at the core's priority).
   * `null` before the worker is ready, or with no worker.
   */
  get workerPriority(): { nice: number } | { error: string } | null {
    return this.#workerNice;
  }

  /**
   * The verifier report of `source` and its postconditions. An accepted
   * source's catch sites are kept (for the last 64 sources accepted): see
   * {@linkcode VerifierPool.catchSites}.
   */
  verify(source: string, checks: readonly string[]): Promise<VerifierReport> {
    if (this.#disposed) return Promise.reject(new VerifierPoolClosedError());
    if (
      typeof source !== "string" || !Array.isArray(checks) ||
      checks.some((check) => typeof check !== "string")
    ) {
      return Promise.reject(
        new TypeError(
          "Cannot verify: the source and every check must be strings",
        ),
      );
    }
    const chars = checks.reduce((n, c) => n + c.length, source.length);
    const worker = this.#api === TABLETOP_API;
    if (
      !worker ||
      (chars <= this.#inlineChars && checks.length <= INLINE_MAX_CHECKS)
    ) {
      try {
        const sites: CatchSite[] = [];
        // Inline, a short source gets a small work bound: one that needs
        // more goes to the worker (with the whole bound and the clock's).
        const report = verifyRun(source, checks, this.#api, {
          catchSites: sites,
          ...(worker ? { maxSteps: INLINE_MAX_STEPS } : {}),
        });
        // A bound met after the first 100 issues is in `omitted` only.
        const outgrown = worker &&
          (report.issues.some((issue) => issue.code === "too_complex") ||
            (report.omitted ?? 0) > 0);
        if (!outgrown) {
          if (report.ok) this.#keepCatchSites(source, sites);
          return Promise.resolve(report);
        }
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const { promise, resolve, reject } = Promise.withResolvers<
      VerifierReport
    >();
    this.#queue.push({
      id: this.#nextId++,
      kind: "verify",
      source,
      checks: [...checks],
      resolve: (report, sites) => {
        if (report.ok) this.#keepCatchSites(source, sites);
        resolve(report);
      },
      reject,
    });
    this.#pump();
    return promise;
  }

  /**
   * Where the sandbox puts its stop guard in `source` (its `catch` clauses
   * that bind a name, in source order), when this pool accepted `source`
   * lately; `undefined` otherwise (the sandbox then finds them itself).
   */
  catchSites(source: string): readonly CatchSite[] | undefined {
    return this.#catchSites.get(source);
  }

  #keepCatchSites(source: string, sites: readonly CatchSite[]): void {
    this.#catchSites.delete(source);
    if (this.#catchSites.size >= CATCH_SITES_KEPT) {
      this.#catchSites.delete(this.#catchSites.keys().next().value!);
    }
    this.#catchSites.set(source, sites);
  }

  /**
   * {@linkcode checkEnvelope} of `envelope`, with the same outcome: an
   * envelope over `inlineEnvelopeBytes` is read, parsed and its signature
   * checked in the worker, only its version against `options.lastAccepted`
   * here. Options that are not structured-cloneable (other than
   * `lastAccepted`) are refused with a `TypeError`.
   */
  checkEnvelope(
    envelope: string | Uint8Array,
    options: EnvelopeCheckOptions,
  ): Promise<EnvelopeCheck> {
    if (this.#disposed) {
      return Promise.reject(new VerifierPoolClosedError("check the envelope"));
    }
    const size = typeof envelope === "string"
      ? envelope.length
      : envelope.byteLength;
    // One over the size limit is refused here at once: copying it to the
    // worker would cost the calling thread about 3 ms a MiB.
    if (
      size <= this.#inlineEnvelopeBytes ||
      size > (options.maxBytes ?? DEFAULT_ENVELOPE_MAX_BYTES)
    ) {
      return checkEnvelope(envelope, options);
    }
    return checkEnvelope(envelope, {
      ...options,
      offload: (read, stateless) => {
        if (this.#disposed) {
          return Promise.reject(
            new VerifierPoolClosedError("check the envelope"),
          );
        }
        const { promise, resolve, reject } = Promise.withResolvers<
          EnvelopeCheck
        >();
        this.#queue.push({
          id: this.#nextId++,
          kind: "envelope",
          envelope: read,
          options: stateless,
          resolve,
          reject,
        });
        this.#pump();
        return promise;
      },
    });
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
    const entry = new URL("./_verify_worker.ts", import.meta.url);
    // The worker reads and writes nothing and reaches nobody (its modules
    // load with this thread's rights): it may only lower its own thread's
    // priority, when this process may.
    this.#workerNice = null;
    const nice = Deno.permissions.querySync({
      name: "sys",
      kind: "setPriority",
    }).state === "granted";
    const worker = new Worker(entry, {
      type: "module",
      deno: {
        permissions: {
          read: false,
          sys: nice ? ["setPriority"] : false,
          env: false,
          ffi: false,
          import: false,
          net: false,
          run: false,
          write: false,
        },
      },
    });
    worker.onmessage = (event: MessageEvent<_VerifyReply>) => {
      const reply = event.data;
      if (!("id" in reply)) {
        this.#workerReady = true;
        this.#workerNice = "nice" in reply
          ? { nice: reply.nice }
          : { error: reply.niceError };
        if ("nice" in reply) {
          this.#log("info", `verifier worker ready at nice ${reply.nice}`);
        } else {
          this.#log(
            "warn",
            `verifier worker ready at the core's priority: ${reply.niceError}`,
          );
        }
        this.#arm();
        return;
      }
      const job = this.#current;
      if (job === null || reply.id !== job.id) return;
      clearTimeout(this.#timer);
      this.#current = null;
      if ("error" in reply) job.reject(new Error(failed(job, reply.error)));
      else if (job.kind === "verify" && "report" in reply) {
        job.resolve(reply.report, reply.catchSites);
      } else if (job.kind === "envelope" && "check" in reply) {
        job.resolve(reply.check);
      } else job.reject(new Error(failed(job, "it answered another job")));
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
    let message: _VerifyJob;
    const transfer: Transferable[] = [];
    if (job.kind === "verify") {
      message = {
        id: job.id,
        kind: "verify",
        source: job.source,
        checks: job.checks,
      };
    } else {
      // Cloning bytes into a message costs the thread ~0.3 ms per 100 KB;
      // a copy (the caller keeps its bytes) moves over for nothing.
      let envelope = job.envelope;
      if (envelope instanceof Uint8Array) {
        const copy = envelope.slice();
        transfer.push(copy.buffer);
        envelope = copy;
      }
      message = {
        id: job.id,
        kind: "envelope",
        envelope,
        options: job.options,
      };
    }
    try {
      this.#worker.postMessage(message, transfer);
    } catch (error) {
      // Options that cannot be cloned: the caller's mistake, not the worker's.
      this.#current = null;
      job.reject(
        new TypeError(
          failed(job, `its options cannot be sent to the worker (${error})`),
        ),
      );
      this.#pump();
      return;
    }
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
      if (current?.kind === "verify") {
        current.resolve(tooComplex(this.#timeoutMs), []);
      } else current?.resolve(tooSlowEnvelope(this.#timeoutMs));
      this.#pump();
    }, this.#timeoutMs);
  }

  #fail(message: string): void {
    clearTimeout(this.#timer);
    this.#worker?.terminate();
    this.#worker = null;
    const job = this.#current;
    this.#current = null;
    if (job !== null) job.reject(new Error(failed(job, message)));
    this.#pump();
  }
}

/** `Cannot <what the job does>: <why>`. */
function failed(job: Job, why: string): string {
  return job.kind === "verify"
    ? `Cannot verify the program: ${why}`
    : `Cannot check the envelope: ${why}`;
}

function tooSlowEnvelope(timeoutMs: number): EnvelopeCheck {
  return {
    ok: false,
    reason: "malformed_envelope",
    message:
      `Cannot accept program: the envelope could not be checked within ${timeoutMs} ms`,
  };
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
