import {
  CTRL,
  CTRL_BYTES,
  type FromSandbox,
  type GuestLimits,
  HALT,
  INBOX_BYTES,
  RESP_BYTES,
  type ToSandbox,
} from "./_protocol.ts";

/** The worker's source; the host may read exactly this file, nothing else. */
export const WORKER_URL: URL = new URL("./_worker.ts", import.meta.url);

/** Options of a {@linkcode _WorkerSandbox}. */
export interface WorkerSandboxOptions {
  /** The sandbox's numeric limits (the verifier's `SANDBOX_LIMITS`). */
  limits: GuestLimits;
  /**
   * The worker is gone (it failed, or its engine did). `gen` is the run it
   * was in, or `null` between runs; that run's result was not written.
   */
  onDeath: (message: string, gen: number | null) => void;
}

/**
 * One QuickJS worker with `permissions: "none"`, warmed ahead of use, and
 * the shared buffer that reaches it while it is blocked: a run goes into
 * its inbox, a skill answer into its response area, a halt into its halt
 * word. The worker writes its skill calls and its result to the host's
 * stdout itself, so neither travels through this thread. Lives in a
 * sandbox host process ({@link ./host_main.ts}), never in the core.
 * Disposing it terminates the worker.
 */
export class _WorkerSandbox implements Disposable {
  /** Resolves once the worker has loaded QuickJS and prepared a context. */
  readonly ready: Promise<void>;
  readonly #worker: Worker;
  readonly #ctrl: Int32Array;
  readonly #data: Uint8Array;
  readonly #inbox: Uint8Array;
  readonly #encoder = new TextEncoder();
  #dead = false;

  /** Starts the worker with the sandbox's numeric limits. */
  constructor(options: WorkerSandboxOptions) {
    const buffer = new SharedArrayBuffer(CTRL_BYTES + RESP_BYTES);
    const inbox = new SharedArrayBuffer(INBOX_BYTES);
    this.#ctrl = new Int32Array(buffer, 0, CTRL_BYTES / 4);
    this.#data = new Uint8Array(buffer, CTRL_BYTES, RESP_BYTES);
    this.#inbox = new Uint8Array(inbox);
    this.#worker = new Worker(
      WORKER_URL,
      // Deno's worker options: the guest's worker gets no permission at all.
      { type: "module", deno: { permissions: "none" } } as WorkerOptions,
    );
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.ready = promise;
    // Nobody may be awaiting `ready` when the worker fails to start.
    promise.catch(() => {});
    const die = (message: string) => {
      if (this.#dead) return;
      this.#dead = true;
      this.#worker.terminate();
      reject(new Error(`Cannot start the sandbox: ${message}`));
      const gen = Atomics.load(this.#ctrl, CTRL.busyGen);
      options.onDeath(message, gen === 0 ? null : gen);
    };
    this.#worker.onmessage = (event: MessageEvent<FromSandbox>) => {
      const message = event.data;
      if (message.type === "ready") resolve();
      // The engine failed: the worker wrote its run's end and must not
      // serve another run.
      else if (message.type === "fatal") die(message.message);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      // A worker that blew its own stack (deep recursion in wasm) or failed
      // to load: the guest is gone; never let it reach the host's loop.
      event.preventDefault();
      die(event.message);
    };
    this.#worker.postMessage({
      type: "init",
      buffer,
      inbox,
      limits: options.limits,
    });
  }

  /** False once the worker died or was terminated. */
  get alive(): boolean {
    return !this.#dead;
  }

  /**
   * Hands one guest program to the worker; it writes the run's skill calls
   * and its result to stdout. Throws when the run does not fit the inbox.
   */
  run(request: Omit<ToSandbox, "type">): void {
    if (this.#dead) throw new Error("Cannot run: the sandbox worker is gone");
    if (Atomics.load(this.#ctrl, CTRL.inbox) !== 0) {
      throw new Error("Cannot run: the sandbox worker has a run waiting");
    }
    const bytes = this.#encoder.encode(
      JSON.stringify({ ...request, type: "run" } satisfies ToSandbox),
    );
    if (bytes.length > this.#inbox.length) {
      throw new Error(
        `Cannot run: the request is ${bytes.length} bytes, over the sandbox's ${this.#inbox.length}`,
      );
    }
    this.#inbox.set(bytes, 0);
    Atomics.store(this.#ctrl, CTRL.halt, HALT.none);
    Atomics.store(this.#ctrl, CTRL.resp, 0);
    Atomics.store(this.#ctrl, CTRL.inboxLen, bytes.length);
    Atomics.store(this.#ctrl, CTRL.inbox, 1);
    Atomics.notify(this.#ctrl, CTRL.inbox);
  }

  /** Answers skill call `seq` of run `gen` with `json` and wakes the blocked guest. */
  respond(call: { gen: number; seq: number }, json: string): void {
    // A late answer for a run that already ended must not reach the next one.
    if (Atomics.load(this.#ctrl, CTRL.busyGen) !== call.gen) return;
    let bytes = this.#encoder.encode(json);
    if (bytes.length > RESP_BYTES) {
      bytes = this.#encoder.encode(JSON.stringify({
        ok: false,
        code: "backend_error",
        message:
          `Cannot return the skill's result: ${bytes.length} bytes, over the limit of ${RESP_BYTES}`,
      }));
    }
    this.#data.set(bytes, 0);
    Atomics.store(this.#ctrl, CTRL.respLen, bytes.length);
    Atomics.store(this.#ctrl, CTRL.respSeq, call.seq);
    Atomics.store(this.#ctrl, CTRL.resp, 1);
    Atomics.notify(this.#ctrl, CTRL.resp);
  }

  /** Asks the guest to halt: its interrupt handler and any blocked skill call see it. */
  halt(reason: typeof HALT[keyof typeof HALT]): void {
    Atomics.store(this.#ctrl, CTRL.halt, reason);
    Atomics.notify(this.#ctrl, CTRL.resp);
  }

  /** Terminates the worker (it may not stop a thread inside WebAssembly: the host's exit does). */
  [Symbol.dispose](): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#worker.terminate();
  }
}
