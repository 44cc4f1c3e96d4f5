/**
 * The QuickJS sandbox. A guest program runs in a sandbox host: a separate
 * `deno` process with no permissions, holding a worker in which QuickJS
 * runs, blocked on `Atomics.wait` for each skill call and halted through a
 * shared word its interrupt handler reads. SIGKILL of the host is the hard
 * kill.
 * @module
 */
export {
  MAX_ARGS_JSON,
  type SandboxCall,
  SandboxHost,
  type SandboxHostOptions,
  type SandboxResult,
  type SandboxRun,
} from "./sandbox_host.ts";
export { type GuestEnd, HALT, type SandboxLimits } from "./_protocol.ts";
