import {
  ChannelProtocolError,
  forEachLine,
  HELPER_V8_FLAGS,
  helperProgram,
  LineChannel,
} from "../channel/mod.ts";
import type { GuestEnd, SandboxLimits } from "./_protocol.ts";
import { HALT } from "./_protocol.ts";
import { SANDBOX_LIMITS } from "../../verifier/mod.ts";

/** Longest argument JSON a guest may send with one skill call (longer: `invalid_argument`). */
export const MAX_ARGS_JSON: number = SANDBOX_LIMITS.maxSkillArgumentsJsonBytes;
import { FromHost, SANDBOX_PROTOCOL, ToHost } from "./_host_protocol.ts";

/** What a sandbox run ended with: the guest's own end, or the host died. */
export type SandboxResult =
  | {
    kind: "done";
    end: GuestEnd;
    checks: { expr: string; ok: boolean; message?: string }[];
  }
  | { kind: "crashed"; message: string }
  | { kind: "killed" };

/** One skill call of the guest, as the host forwards it. */
export interface SandboxCall {
  /** Generation of the run the call belongs to (answers to an older run are dropped). */
  gen: number;
  /** Sequence number of the call within its run. */
  seq: number;
  /** Whether the call came from the program or from a postcondition check. */
  phase: "program" | "check";
  /** Name of the skill called. */
  skill: string;
  /** The arguments as plain data, or `null` when they were not (too large, malformed). */
  args: unknown[] | null;
  /** Length of the argument JSON the guest sent. */
  argsBytes: number;
}

/** One program for the sandbox. */
export interface SandboxRun {
  /** The program's JavaScript source. */
  source: string;
  /**
   * Where its stop guard goes: the source's `catch` clauses that bind a
   * name, in source order, as the verifier found them. Without it the
   * host parses the source itself (about 1 ms for 2 KB, more while its
   * parser is cold).
   */
  catchSites?: { offset: number; name: string }[];
  /** Postconditions: JavaScript expressions evaluated after the program. */
  checks: string[];
  /** Names of the skills the program may call. */
  skills: string[];
  /** Names of the query skills the checks may call. */
  querySkills: string[];
  /** Memory, stack and time limits of this run. */
  limits: SandboxLimits;
}

/** Options of a {@linkcode SandboxHost}. */
export interface SandboxHostOptions {
  /** Lines the host or its worker wrote on stderr (uncaught errors). */
  onStderr?: (line: string, pid: number) => void;
  /**
   * The skills programs will call: the host builds its first run's context
   * before it is ready, so that run does not pay for it (about 1.3 ms).
   */
  skills?: readonly string[];
  /**
   * The most memory a run on this host may take, bytes (default 64 MiB):
   * its engine's memory never grows past this and a fixed margin (the
   * engine's own count undercounts large blocks; this bound always holds).
   * A run with a lower cap needs a host started with it.
   */
  memoryBytes?: number;
  /**
   * How long a halted guest thawed after {@linkcode SandboxHost.terminate}
   * has to end its run by itself before the SIGKILL, ms (default
   * {@linkcode THAW_WAIT_MS}).
   */
  thawWaitMs?: number;
}

/** A run's memory cap when the host is told none: the executor's default. */
const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * How long a host stopped by {@linkcode SandboxHost.terminate} (SIGSTOP: it
 * runs nothing) waits for its SIGKILL: long enough for the stop to be
 * answered first, short enough that its memory is back at once.
 */
export const KILL_AFTER_STOP_MS = 20;

/**
 * How long a host whose guest had been asked to halt gets, once thawed
 * (SIGCONT) after the {@linkcode KILL_AFTER_STOP_MS}, to end that run by
 * itself; then SIGKILL. A guest that halts in time keeps its host: no new
 * process (about 450 ms of CPU to start one) on a machine already busy.
 */
export const THAW_WAIT_MS = 20;

/**
 * V8 flags of a sandbox host: the helpers' ({@linkcode HELPER_V8_FLAGS}),
 * and room on its threads' native stack for QuickJS's own stack cap to come
 * first. Some builtins recurse in C (`JSON.stringify` or `JSON.parse` of a
 * deep structure, `flat`, `String` of nested arrays), using little of the
 * guest's own stack (its cap, 256 KiB) but much of the native one: at that
 * cap a nested `JSON.stringify` had used 3.0–3.5 MB of it. Under V8's
 * default limit (984 KB) V8 stopped it first, uncatchable, and the host was
 * lost. A Deno worker's thread has 4 MiB of stack on the Deno this project
 * pins, 2.9.6 (measured: deep recursion in a worker throws a RangeError at
 * `--stack-size=3500`, and aborts the process at 4500); a Deno whose
 * workers had less would abort there instead, which ends the host as
 * before.
 */
export const HOST_V8_FLAGS = `${HELPER_V8_FLAGS},--stack-size=3500`;

const HOST_MAIN = new URL("./host_main.ts", import.meta.url);
/** The one file a host may read: its worker's entry (`new Worker` checks it). */
const WORKER_SOURCE = new URL("./_worker.ts", import.meta.url);
const DENO_JSON = new URL("../../deno.json", import.meta.url);

/** Environment variables a host keeps: where Deno's cache is, nothing else. */
const KEPT_ENV = ["DENO_DIR", "HOME", "XDG_CACHE_HOME", "NO_COLOR"];

/**
 * A sandbox host process seen from the core: a `deno` process started from
 * `Deno.execPath()` with no permissions but reading its worker's source
 * file, holding one QuickJS worker (which has no permissions at all).
 * The cooperative halt is a line on its stdin, which the worker reads in a
 * skill call; an e-stop is also SIGUSR2, which reaches a guest that runs
 * (a host whose run ended before the signal reached it is retired:
 * {@linkcode alive} turns false).
 * The hard kill is SIGSTOP, which always works and frees the guest's CPU
 * at once, then SIGKILL a moment later; a guest that had been asked to halt
 * is thawed first and keeps its host if it ends its run by itself at once
 * ({@linkcode SandboxHost.terminate}).
 * Disposing it closes its stdin (it exits), then kills it if it lingers.
 *
 * @example
 * ```ts ignore
 * await using host = new SandboxHost();
 * await host.ready;
 * const result = await host.run(request, (call) => host.respond(call, answer));
 * ```
 */
export class SandboxHost implements AsyncDisposable {
  /** Resolves when the host's worker has loaded QuickJS and can take a run at once. */
  readonly ready: Promise<void>;
  readonly #child: Deno.ChildProcess;
  readonly #channel: LineChannel<FromHost, ToHost>;
  readonly #exited: Promise<Deno.CommandStatus>;
  #gen = 0;
  #runs = 0;
  #rss = 0;
  #pid = 0;
  #dead = false;
  #warm = false;
  #killed = false;
  /** Calls of the run in progress not answered yet: the guest waits in one. */
  #unanswered = 0;
  /** The run in progress was signalled to stop. */
  #signalled = false;
  /** Its signal may still arrive (the run's end did not report it): no other run. */
  #spent = false;
  /** Generation of the last run asked to halt. */
  #haltedGen = 0;
  readonly #thawWaitMs: number;
  /** Stopped by {@linkcode terminate}, waiting to see whether its halted run ends by itself. */
  #frozen:
    | {
      gen: number;
      timer: ReturnType<typeof setTimeout>;
      verdict: Promise<boolean>;
      decide: (alive: boolean) => void;
    }
    | null = null;
  #pending:
    | {
      gen: number;
      resolve: (result: SandboxResult) => void;
      onCall: (call: SandboxCall) => void;
    }
    | null = null;

  /** Starts the process; {@linkcode ready} tells when it is warm. */
  constructor(options: SandboxHostOptions = {}) {
    this.#thawWaitMs = options.thawWaitMs ?? THAW_WAIT_MS;
    const env: Record<string, string> = { DENO_NO_UPDATE_CHECK: "1" };
    for (const name of KEPT_ENV) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    this.#child = new Deno.Command(helperProgram("a sandbox host"), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        HOST_V8_FLAGS,
        "--unstable-worker-options",
        `--config=${DENO_JSON.pathname}`,
        `--allow-read=${new URL(".", WORKER_SOURCE).pathname}`,
        HOST_MAIN.pathname,
      ],
      clearEnv: true,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pid = this.#child.pid;
    this.#channel = new LineChannel(
      this.#child.stdout,
      this.#child.stdin,
      {
        name: `sandbox host ${this.#child.pid}`,
        schema: FromHost,
        maxLineBytes: 8 * 1024 * 1024,
      },
    );
    void this.#channel.send({
      type: "hello",
      protocol: SANDBOX_PROTOCOL,
      limits: { ...SANDBOX_LIMITS },
      ...(options.skills ? { skills: [...options.skills] } : {}),
      memoryBytes: options.memoryBytes ?? DEFAULT_MEMORY_BYTES,
    });
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.ready = promise;
    promise.then(() => this.#warm = true, () => {});
    // Nobody may be awaiting `ready` when the host fails to start.
    promise.catch(() => {});
    const pumped = this.#pump(resolve, reject);
    void forEachLine(
      this.#child.stderr,
      (line) => options.onStderr?.(line, this.#pid),
    );
    this.#exited = this.#child.status;
    // What the host said before it went (its run's end) is read first.
    Promise.all([this.#exited, pumped]).then(([status]) => {
      this.#dead = true;
      this.#decide(false);
      reject(
        new Error(
          `Cannot start the sandbox host: it exited with ${describe(status)}`,
        ),
      );
      this.#settle(
        this.#killed ? { kind: "killed" } : {
          kind: "crashed",
          message: `the sandbox host exited with ${describe(status)}`,
        },
      );
    });
  }

  /** The host's process id. */
  get pid(): number {
    return this.#pid;
  }

  /** True once the host is warm and may take a run. */
  get warm(): boolean {
    return this.#warm && this.alive;
  }

  /**
   * False once the host died, was killed, was signalled to stop, or is being
   * retired; also while it is stopped after {@linkcode terminate}, waiting
   * to see whether its halted run ends by itself ({@linkcode recovering}).
   */
  get alive(): boolean {
    return !this.#dead && !this.#spent && this.#frozen === null;
  }

  /**
   * While a host stopped by {@linkcode terminate} waits to see whether its
   * halted guest ends by itself: resolves `true` when it did and the host
   * takes runs again, `false` when it was killed. `null` otherwise.
   */
  get recovering(): Promise<boolean> | null {
    return this.#frozen?.verdict ?? null;
  }

  /** Runs served so far. */
  get runs(): number {
    return this.#runs;
  }

  /** The host's resident memory as it last reported it, bytes (0 before); see the result's `rss`. */
  get rss(): number {
    return this.#rss;
  }

  /** Resolves when the process has exited. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#exited;
  }

  /** Runs one guest program. `onCall` gets each skill call; answer with `respond`. */
  run(
    request: SandboxRun,
    onCall: (call: SandboxCall) => void,
  ): Promise<SandboxResult> {
    if (!this.alive) {
      return Promise.resolve({
        kind: "crashed",
        message: this.#dead
          ? "the sandbox host is gone"
          : "the sandbox host's stop signal may still arrive: it takes no other run",
      });
    }
    if (this.#pending !== null) {
      throw new Error("Cannot run: the sandbox host is busy");
    }
    this.#gen += 1;
    this.#runs += 1;
    this.#unanswered = 0;
    this.#signalled = false;
    const { promise, resolve } = Promise.withResolvers<SandboxResult>();
    this.#pending = { gen: this.#gen, resolve, onCall };
    void this.#channel.send({ type: "run", gen: this.#gen, ...request });
    return promise;
  }

  /** Answers skill call `seq` of run `gen` with `json`; the host wakes the blocked guest. */
  respond(call: { gen: number; seq: number }, json: string): void {
    // A late answer for a run that already ended must not reach the next one.
    if (this.#pending?.gen !== call.gen) return;
    this.#unanswered = Math.max(0, this.#unanswered - 1);
    void this.#channel.send({
      type: "answer",
      gen: call.gen,
      seq: call.seq,
      json,
    });
  }

  /**
   * Asks the guest of the run in progress to halt. The line reaches a guest
   * that waits in a skill call (it reads the line before the call's answer,
   * which comes later); a running guest checks its own deadline (`timeout`)
   * and reads the line at its next call (`budget`: the executor sends the
   * halt before the call's answer). An e-stop must also reach a guest that
   * runs and calls nothing: unless it waits for an answer, the host is
   * signalled too. A signal the run's end does not report may still land
   * later: that host takes no other run.
   */
  halt(reason: Exclude<typeof HALT[keyof typeof HALT], 0>): void {
    if (this.#pending === null) return;
    this.#haltedGen = this.#pending.gen;
    void this.#channel.send({ type: "halt", gen: this.#pending.gen, reason });
    if (
      reason !== HALT.estop || this.#dead || this.#signalled ||
      this.#unanswered > 0
    ) return;
    this.#signalled = true;
    try {
      this.#child.kill("SIGUSR2");
    } catch {
      // Already gone: its run settles from its exit.
    }
  }

  /**
   * The hard kill, which never depends on the guest: SIGSTOP, which halts
   * every thread of the host at once and cannot be caught, then SIGKILL
   * {@linkcode KILL_AFTER_STOP_MS} later. Settles a pending run as `killed`
   * at once. A second call on a stopped host sends the SIGKILL at once.
   *
   * Not SIGKILL alone: the process's death runs on the CPU of whoever sent
   * it (its threads wake there and preempt the sender), so on this two-core
   * machine `kill(SIGKILL)` of a host whose guest runs held the core's
   * thread for 0.2–6.3 ms, with one involuntary context switch each time;
   * SIGSTOP returns in about 0.06 ms. The death then comes off the stop's
   * answer.
   *
   * When the run had been asked to halt ({@linkcode halt}) and only missed
   * its grace (a busy machine had not scheduled the host yet), the host is
   * thawed (SIGCONT) instead of killed at first: its guest, whose halt is
   * set, ends by itself, and its calls go nowhere (its run is settled). A
   * host whose run ends so within `thawWaitMs` takes runs again
   * ({@linkcode recovering}); any other is killed (SIGKILL). So a guest
   * runs at most `thawWaitMs` after its stop, and only with its halt set.
   */
  terminate(): void {
    if (this.#frozen !== null) {
      this.#kill();
    } else if (!this.#dead) {
      this.#killed = true;
      try {
        this.#child.kill("SIGSTOP");
      } catch {
        // Already gone.
      }
      const gen = this.#pending?.gen ?? 0;
      if (gen !== 0 && gen === this.#haltedGen) {
        const { promise, resolve } = Promise.withResolvers<boolean>();
        this.#frozen = {
          gen,
          verdict: promise,
          decide: resolve,
          timer: setTimeout(() => this.#thaw(), KILL_AFTER_STOP_MS),
        };
      } else {
        this.#dead = true;
        setTimeout(() => this.#kill(), KILL_AFTER_STOP_MS);
      }
    }
    this.#settle({ kind: "killed" });
  }

  /** Lets a stopped host whose run was halted go on, for `thawWaitMs`. */
  #thaw(): void {
    const frozen = this.#frozen;
    if (frozen === null) return;
    try {
      this.#child.kill("SIGCONT");
    } catch {
      // Already gone: its exit decides.
    }
    frozen.timer = setTimeout(() => this.#kill(), this.#thawWaitMs);
  }

  #kill(): void {
    this.#dead = true;
    this.#killed = true;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    this.#decide(false);
  }

  /** Ends the wait of a stopped host: it takes runs again, or it is dead. */
  #decide(alive: boolean): void {
    const frozen = this.#frozen;
    if (frozen === null) return;
    clearTimeout(frozen.timer);
    this.#frozen = null;
    if (alive) {
      this.#killed = false;
      // Its run may have ended before the stop: it is not thawed yet.
      try {
        this.#child.kill("SIGCONT");
      } catch {
        // Gone meanwhile: its exit says so.
      }
    }
    frozen.decide(alive);
  }

  /** Closes the host's stdin (it exits), and kills it if it is still there after `graceMs`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#frozen !== null) this.#kill();
    if (!this.#dead) {
      this.#dead = true;
      await this.#channel.close();
      const timer = setTimeout(() => {
        this.#killed = true;
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 500);
      await this.#exited;
      clearTimeout(timer);
    } else {
      await this.#exited;
    }
    this.#settle({ kind: "killed" });
  }

  async #pump(resolve: () => void, reject: (error: Error) => void) {
    try {
      for await (const message of this.#channel) {
        switch (message.type) {
          case "hello":
            if (message.protocol !== SANDBOX_PROTOCOL) {
              throw new ChannelProtocolError(
                this.#channel.name,
                `it speaks "${message.protocol}", not "${SANDBOX_PROTOCOL}"`,
              );
            }
            break;
          case "ready":
            resolve();
            break;
          case "call":
            if (this.#pending?.gen === message.gen) {
              this.#unanswered += 1;
              const { nonFinite, ...call } = message;
              if (nonFinite && call.args) revive(call.args, nonFinite);
              this.#pending.onCall(call);
            }
            break;
          case "result":
            this.#rss = message.rss;
            if (this.#frozen?.gen === message.gen) {
              // Its halted run ended by itself: unless its stop signal may
              // still land, the host is whole again.
              const whole = message.result.kind === "done" &&
                !(this.#signalled && !message.signalled);
              if (whole) this.#decide(true);
              else this.#kill();
              break;
            }
            if (
              this.#pending?.gen === message.gen && this.#signalled &&
              !message.signalled
            ) this.#spent = true;
            if (this.#pending?.gen === message.gen) {
              if (message.result.kind !== "done") this.#dead = true;
              this.#settle(message.result as SandboxResult);
            }
            break;
          case "fatal":
            this.#dead = true;
            reject(new Error(`Cannot start the sandbox: ${message.message}`));
            this.#settle({ kind: "crashed", message: message.message });
            this.terminate();
            break;
        }
      }
    } catch (error) {
      // A host that breaks the protocol is at fault: it ends, never the core.
      this.#dead = true;
      reject(error as Error);
      this.#settle({
        kind: "crashed",
        message: (error as Error).message,
      });
      this.terminate();
    }
  }

  #settle(result: SandboxResult): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve(result);
  }
}

/** Puts back the numbers JSON could not carry, where the host said they were. */
function revive(
  args: unknown[],
  nonFinite: { path: (string | number)[]; value: string }[],
): void {
  for (const { path, value } of nonFinite) {
    let parent: unknown = args;
    for (const key of path.slice(0, -1)) {
      parent = (parent as Record<string | number, unknown> | null)?.[key];
    }
    const last = path.at(-1);
    if (
      last !== undefined && parent !== null && typeof parent === "object" &&
      Object.hasOwn(parent, last)
    ) {
      (parent as Record<string | number, unknown>)[last] = Number(value);
    }
  }
}

function describe(status: Deno.CommandStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}
