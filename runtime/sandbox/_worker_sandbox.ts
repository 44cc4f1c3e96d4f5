import {
  CTRL,
  CTRL_BYTES,
  type FromSandbox,
  type GuestEnd,
  type GuestLimits,
  HALT,
  RESP_BYTES,
  type ToSandbox,
} from "./_protocol.ts";

/** What a sandbox run ended with: the guest's own end, or the worker died. */
export type SandboxResult =
  | {
    kind: "done";
    end: GuestEnd;
    checks: { expr: string; ok: boolean; message?: string }[];
  }
  | { kind: "crashed"; message: string }
  | { kind: "killed" };

/** The worker's source; the host may read exactly this file, nothing else. */
export const WORKER_URL: URL = new URL("./_worker.ts", import.meta.url);

type CallMessage = Extract<FromSandbox, { type: "call" }>;

/**
 * One QuickJS worker with `permissions: "none"`, warmed ahead of use, and
 * the shared control buffer that reaches it while it is blocked. Lives in a
 * sandbox host process ({@link ./host_main.ts}), never in the core.
 */
export class _WorkerSandbox {
  readonly ready: Promise<void>;
  readonly #worker: Worker;
  readonly #ctrl: Int32Array;
  readonly #data: Uint8Array;
  #gen = 0;
  #dead = false;
  #warm = false;
  #pending:
    | {
      gen: number;
      resolve: (result: SandboxResult) => void;
      onCall: (call: CallMessage) => void;
    }
    | null = null;

  /** Starts the worker with the sandbox's numeric limits. */
  constructor(limits: GuestLimits) {
    const buffer = new SharedArrayBuffer(CTRL_BYTES + RESP_BYTES);
    this.#ctrl = new Int32Array(buffer, 0, CTRL_BYTES / 4);
    this.#data = new Uint8Array(buffer, CTRL_BYTES, RESP_BYTES);
    this.#worker = new Worker(
      WORKER_URL,
      // Deno's worker options: the guest's worker gets no permission at all.
      { type: "module", deno: { permissions: "none" } } as WorkerOptions,
    );
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.ready = promise;
    promise.then(() => this.#warm = true, () => {});
    // Nobody may be awaiting `ready` when the worker fails to start.
    promise.catch(() => {});
    this.#worker.onmessage = (event: MessageEvent<FromSandbox>) => {
      const message = event.data;
      switch (message.type) {
        case "ready":
          resolve();
          return;
        case "call":
          if (this.#pending?.gen === message.gen) this.#pending.onCall(message);
          return;
        case "done":
          if (this.#pending?.gen === message.gen) {
            this.#settle({
              kind: "done",
              end: message.end,
              checks: message.checks,
            });
          }
          return;
        case "fatal":
          // The engine failed: this worker must not serve another run.
          this.#dead = true;
          this.#worker.terminate();
          this.#settle({ kind: "crashed", message: message.message });
          return;
      }
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      // A worker that blew its own stack (deep recursion in wasm) or failed
      // to load: the guest is gone; never let it reach the host's loop.
      event.preventDefault();
      this.#dead = true;
      reject(new Error(`Cannot start the sandbox: ${event.message}`));
      this.#settle({ kind: "crashed", message: event.message });
    };
    this.#worker.postMessage({ type: "init", buffer, limits });
  }

  /** True once the worker has loaded QuickJS and can take a run at once. */
  get warm(): boolean {
    return this.#warm && !this.#dead;
  }

  /** False once the worker died or was terminated. */
  get alive(): boolean {
    return !this.#dead;
  }

  /** Runs one guest program. `onCall` gets each skill call; answer with `respond`. */
  run(
    request: Omit<ToSandbox, "type">,
    onCall: (call: CallMessage) => void,
  ): Promise<SandboxResult> {
    if (this.#dead) {
      return Promise.resolve({
        kind: "crashed",
        message: "the sandbox is gone",
      });
    }
    if (this.#pending !== null) {
      throw new Error("Cannot run: the sandbox is busy");
    }
    this.#gen = request.gen;
    Atomics.store(this.#ctrl, CTRL.halt, HALT.none);
    Atomics.store(this.#ctrl, CTRL.resp, 0);
    const { promise, resolve } = Promise.withResolvers<SandboxResult>();
    this.#pending = { gen: this.#gen, resolve, onCall };
    this.#worker.postMessage(
      { ...request, type: "run" } satisfies ToSandbox,
    );
    return promise;
  }

  /** Answers skill call `seq` of run `gen` with `json` and wakes the blocked guest. */
  respond(call: { gen: number; seq: number }, json: string): void {
    // A late answer for a run that already ended must not reach the next one.
    if (this.#pending?.gen !== call.gen) return;
    const seq = call.seq;
    let bytes = new TextEncoder().encode(json);
    if (bytes.length > RESP_BYTES) {
      bytes = new TextEncoder().encode(JSON.stringify({
        ok: false,
        code: "backend_error",
        message:
          `Cannot return the skill's result: ${bytes.length} bytes, over the limit of ${RESP_BYTES}`,
      }));
    }
    this.#data.set(bytes, 0);
    Atomics.store(this.#ctrl, CTRL.respLen, bytes.length);
    Atomics.store(this.#ctrl, CTRL.respSeq, seq);
    Atomics.store(this.#ctrl, CTRL.resp, 1);
    Atomics.notify(this.#ctrl, CTRL.resp);
  }

  /** Asks the guest to halt: its interrupt handler and any blocked skill call see it. */
  halt(reason: typeof HALT[keyof typeof HALT]): void {
    Atomics.store(this.#ctrl, CTRL.halt, reason);
    Atomics.notify(this.#ctrl, CTRL.resp);
  }

  /** The hard kill: never depends on the guest. Settles a pending run as `killed`. */
  terminate(): void {
    if (!this.#dead) {
      this.#dead = true;
      this.#worker.terminate();
    }
    this.#settle({ kind: "killed" });
  }

  #settle(result: SandboxResult): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve(result);
  }
}
