/** Options for {@linkcode ClosedError}. */
export interface ClosedErrorOptions extends ErrorOptions {
  /** What could not be done, e.g. `"run pick"`; default `use <what>`. */
  action?: string;
  /** How it was ended; default `"closed"`. */
  state?: "closed" | "disposed" | "shutting down";
}

/**
 * Use after close: something that holds a resource (a backend, the
 * executor, a store, the telemetry client, …) was called after it was closed
 * or disposed. This is the project's one use-after-close error; each holder
 * throws it or a subclass named after it (`BackendDisposedError`,
 * `ExecutorDisposedError`, `StoreClosedError`, …), so a caller catches one
 * holder's or all of them. A logic error of the caller, not of the world.
 *
 * @example
 * ```ts
 * import { ClosedError } from "./closed_error.ts";
 * const error = new ClosedError("the executor", { action: "start a run", state: "disposed" });
 * if (error.message !== "Cannot start a run: the executor is disposed") throw error;
 * ```
 */
export class ClosedError extends Error {
  /** What was closed, e.g. `"the executor"`. */
  readonly what: string;

  /** Creates the error: `Cannot <action>: <what> is <state>`. */
  constructor(what: string, options: ClosedErrorOptions = {}) {
    const { action, state = "closed", ...errorOptions } = options;
    super(
      action === undefined
        ? `Cannot use ${what}: it is ${state}`
        : `Cannot ${action}: ${what} is ${state}`,
      errorOptions,
    );
    this.name = "ClosedError";
    this.what = what;
  }
}
