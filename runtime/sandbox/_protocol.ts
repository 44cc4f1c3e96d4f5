/**
 * The protocol between a sandbox host's main thread and its QuickJS worker.
 *
 * Everything after the start lives in a SharedArrayBuffer, so that it works
 * while the worker is blocked and costs no trip through either thread's event
 * loop: the main thread puts a run into the inbox and wakes the worker, which
 * waits for it on `Atomics.wait`; the worker's interrupt handler reads the
 * halt word; a skill call blocks the worker on the response word until the
 * main thread has written the core's answer. The worker writes its skill
 * calls and its result to the host's stdout itself, as host protocol lines.
 * @module
 */

/** Int32 slots of the control buffer. */
export const CTRL = {
  /** Why the guest must halt; 0 while it may run. See {@linkcode HALT}. */
  halt: 0,
  /** 1 when a response is ready for the call whose sequence is in `respSeq`. */
  resp: 1,
  respSeq: 2,
  /** Byte length of the response JSON in the data area. */
  respLen: 3,
  /** 1 when a run (JSON of {@linkcode ToSandbox}) waits in the inbox. */
  inbox: 4,
  /** Byte length of the run JSON in the inbox. */
  inboxLen: 5,
  /** The generation of the run the worker is in, or 0 between runs. */
  busyGen: 6,
} as const;

/** Reasons the main thread asks the guest to halt. */
export const HALT = {
  none: 0,
  estop: 1,
  timeout: 2,
  budget: 3,
} as const;

/** Bytes of the control area (Int32 slots). */
export const CTRL_BYTES = 64;
/** Bytes available for one skill response (JSON, UTF-8). */
export const RESP_BYTES = 1 << 20;
/** Bytes available for one run (JSON, UTF-8): the host channel's line limit. */
export const INBOX_BYTES = 8 * 1024 * 1024;
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

/** Main → worker, through the inbox. */
export type ToSandbox = {
  type: "run";
  gen: number;
  source: string;
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

/** Worker → main, by `postMessage`: only the start and the worker's end. */
export type FromSandbox =
  | { type: "ready" }
  | { type: "fatal"; message: string };
