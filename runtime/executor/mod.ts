/**
 * The executor: runs verified programs in the sandbox one at a time, with
 * caps, watchdogs and an emergency stop, and builds their evidence.
 * @module
 */
export { type Caps, DEFAULT_CAPS, lowerCaps } from "./caps.ts";
export {
  EstopLatchedError,
  Executor,
  ExecutorBusyError,
  ExecutorDisposedError,
  type ExecutorOptions,
  type RunEvent,
  type RunOptions,
  type RunRequest,
} from "./executor.ts";
export { runLocal, type RunLocalOptions } from "./run_local.ts";
export { verifyRun, type VerifyRunOptions } from "./verify_run.ts";
export {
  VerifierPool,
  VerifierPoolClosedError,
  type VerifierPoolOptions,
} from "./verifier_pool.ts";
