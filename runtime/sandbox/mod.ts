/**
 * The QuickJS sandbox. A guest program runs in a sandbox host: a separate
 * `deno` process with no permissions, holding a worker in which QuickJS
 * runs. The worker reads the core's lines from the host's stdin itself
 * (blocking, for each run and each skill call's answer) and writes its own
 * to stdout; an e-stop is a halt line and SIGUSR2, which sets a shared word
 * the guest's interrupt handler reads. SIGSTOP of the host is the hard kill
 * (SIGKILL follows a moment later).
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
