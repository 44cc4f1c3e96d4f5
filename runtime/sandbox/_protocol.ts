/**
 * What a sandbox host's main thread and its QuickJS worker share.
 *
 * The worker talks to the core itself: it reads the core's lines from the
 * host's stdin (blocking, between runs and during a skill call) and writes
 * its own lines to stdout, so no message waits on the main thread's event
 * loop. The main thread only starts the worker, reports its death, and turns
 * the core's stop signal (SIGUSR2) into the sticky signal word, which the
 * guest's interrupt handler reads while the worker is not reading stdin.
 * @module
 */

/** Names the core ↔ host protocol in the hello messages. */
export const SANDBOX_PROTOCOL = "cap-edge.sandbox/3";

/** Int32 slots of the control buffer. */
export const CTRL = {
  /**
   * Why the guest must halt; 0 while it may run. See {@linkcode HALT}. The
   * worker sets it from a halt line and clears it when a run starts.
   */
  halt: 0,
  /**
   * Set by the main thread when the core signalled a stop. The worker says
   * so in the run's result and clears it; a host whose result does not say
   * so may still get the signal late, so the core gives it no other run.
   */
  signal: 1,
  /** The generation of the run the worker is in, or 0 between runs. */
  busyGen: 2,
} as const;

/** Reasons the guest is asked to halt. */
export const HALT = {
  none: 0,
  estop: 1,
  timeout: 2,
  budget: 3,
} as const;

/** Bytes of the control area (Int32 slots). */
export const CTRL_BYTES = 64;
/** Longest skill answer passed to the guest (JSON, characters); a longer one becomes a `backend_error`. */
export const RESP_BYTES = 1 << 20;
/** Longest line the worker reads from the core (a run with its source): bytes. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;
/**
 * The sandbox's numeric limits as the guest's world enforces them: the
 * verifier's `SANDBOX_LIMITS` (the one place they are declared), sent by the
 * core to each host and by the host to its worker.
 */
export interface GuestLimits {
  maxArrayLength: number;
  maxCompareWork: number;
  maxSkillArgumentDepth: number;
  maxSkillArgumentValues: number;
  maxSkillArgumentsJsonBytes: number;
}

/** Limits for one run inside the sandbox. */
export interface SandboxLimits {
  /** QuickJS heap limit, bytes. */
  memoryBytes: number;
  /** QuickJS stack limit, bytes. */
  stackBytes: number;
  /** Absolute deadline, `Date.now()` clock. */
  deadline: number;
  /** Per-check deadline for postconditions, milliseconds. */
  checkTimeoutMs: number;
}

/** One run, as the worker takes it from the core's line. */
export type ToSandbox = {
  type: "run";
  gen: number;
  source: string;
  /** Where the stop guard goes, when the core's verifier said. */
  catchSites?: { offset: number; name: string }[] | undefined;
  checks: string[];
  skills: string[];
  querySkills: string[];
  limits: SandboxLimits;
};

/** How the guest program ended, as seen from inside the sandbox. */
export type GuestEnd =
  | { kind: "ok" }
  | {
    kind: "error";
    name: string;
    message: string;
    code: string | null;
    line: number | null;
    /** The interrupt handler fired (stop, deadline) — checked, not claimed by the guest. */
    interrupted: boolean;
    /**
     * The error is the engine's own (out of memory, stack overflow,
     * interrupted), unchanged since the engine raised it: not one the guest
     * made, copied or rewrote (a catch clause that held it is on record).
     */
    engine: boolean;
    /** The error is the SkillError the host raised for this call (the sandbox's call sequence number). */
    skillSeq?: number | null;
  };

/**
 * Worker → main, by `postMessage`: only the worker's end. `fatal`: its
 * engine failed (it wrote its run's end); `eof`: the core closed stdin;
 * `protocol`: the core broke the protocol.
 */
export type FromSandbox =
  | { type: "fatal"; message: string }
  | { type: "eof" }
  | { type: "protocol"; message: string };
