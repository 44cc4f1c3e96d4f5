/**
 * The robot side: executor (QuickJS sandbox in a zero-permission worker),
 * caps, evidence, and the edge service.
 * @module
 */
export * from "./evidence.ts";
export { type Caps, DEFAULT_CAPS, lowerCaps } from "./caps.ts";
export { labelForSkillCode } from "./failure_label.ts";
export {
  EstopLatchedError,
  Executor,
  ExecutorBusyError,
  ExecutorDisposedError,
  type ExecutorOptions,
  type RunEvent,
  type RunOptions,
  type RunRequest,
  sha256Hex,
} from "./executor.ts";
export { runLocal, type RunLocalOptions } from "./run_local.ts";
