/**
 * The QuickJS sandbox: a guest program runs in a worker with no permissions,
 * blocked on `Atomics.wait` for each skill call, halted through a shared
 * word its interrupt handler reads.
 * @module
 */
export { _Sandbox, type SandboxResult } from "./sandbox.ts";
export { HALT, MAX_ARGS_JSON } from "./_protocol.ts";
