import { CTRL, CTRL_BYTES, type FromSandbox, HALT } from "./_protocol.ts";

/** The worker's source; the host may read exactly this folder, nothing else. */
export const WORKER_URL: URL = new URL("./_worker.ts", import.meta.url);

/** Options of a {@linkcode _WorkerSandbox}. */
export interface WorkerSandboxOptions {
  /**
   * The worker is gone (it failed, or its engine did). `gen` is the run it
   * was in, or `null` between runs; that run's result was not written.
   */
  onDeath: (message: string, gen: number | null) => void;
  /** The core closed the host's stdin: the host should end. */
  onEndOfInput: () => void;
  /** The core broke the protocol (`message` says how): the host should end. */
  onProtocolError: (message: string) => void;
}

/**
 * One QuickJS worker with `permissions: "none"` and the shared control
 * buffer that reaches it while it runs a guest. The worker reads the core's
 * lines from stdin and writes its own to stdout itself, so no run, call,
 * answer or result passes through this thread; this thread only turns the
 * core's stop signal into the buffer's signal word ({@linkcode signal}) and
 * reports the worker's end. Lives in a sandbox host process
 * ({@link ./host_main.ts}), never in the core. Disposing it terminates the
 * worker.
 */
export class _WorkerSandbox implements Disposable {
  readonly #worker: Worker;
  readonly #ctrl: Int32Array;
  #dead = false;

  /** Starts the worker; it greets the core itself. */
  constructor(options: WorkerSandboxOptions) {
    const buffer = new SharedArrayBuffer(CTRL_BYTES);
    this.#ctrl = new Int32Array(buffer);
    this.#worker = new Worker(
      WORKER_URL,
      // Deno's worker options: the guest's worker gets no permission at all.
      { type: "module", deno: { permissions: "none" } } as WorkerOptions,
    );
    const die = (message: string) => {
      if (this.#dead) return;
      this.#dead = true;
      this.#worker.terminate();
      const gen = Atomics.load(this.#ctrl, CTRL.busyGen);
      options.onDeath(message, gen === 0 ? null : gen);
    };
    this.#worker.onmessage = (event: MessageEvent<FromSandbox>) => {
      const message = event.data;
      switch (message.type) {
        // The engine failed: the worker wrote its run's end and must not
        // serve another run.
        case "fatal":
          die(message.message);
          break;
        case "eof":
          options.onEndOfInput();
          break;
        case "protocol":
          options.onProtocolError(message.message);
          break;
      }
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      // A worker that blew its own stack (deep recursion in wasm) or failed
      // to load: the guest is gone; never let it reach the host's loop.
      event.preventDefault();
      die(event.message);
    };
    this.#worker.postMessage({ type: "init", buffer });
  }

  /** False once the worker died or was terminated. */
  get alive(): boolean {
    return !this.#dead;
  }

  /**
   * The core's stop signal: the guest's interrupt handler and its next
   * skill call see it; the worker reports and clears it with the run's end.
   */
  signal(): void {
    Atomics.store(this.#ctrl, CTRL.signal, HALT.estop);
  }

  /** Terminates the worker (it may not stop a thread inside WebAssembly: the host's exit does). */
  [Symbol.dispose](): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#worker.terminate();
  }
}
