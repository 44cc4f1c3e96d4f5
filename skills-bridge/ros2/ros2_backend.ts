import type { Obj, WorldState } from "../skill_api.ts";
import {
  BackendDisposedError,
  type InvokeOptions,
  type SkillBackend,
  type SkillOutcome,
} from "../skill_backend.ts";
import type { SkillErrorCode } from "../skill_error.ts";
import { delay } from "../delay.ts";
import { _BridgeMessage, type _Orphan, _PROTOCOL } from "./_bridge_protocol.ts";
import {
  type _Connection,
  _connectSocket,
  _spawn,
} from "./_bridge_connection.ts";
import { _readNdjson } from "./_ndjson.ts";
import {
  parseRos2Config,
  ROS2_DEFAULT_GOALS,
  type Ros2Config,
  type Ros2ConfigInput,
} from "./ros2_config.ts";
import { Ros2UnavailableError } from "./ros2_unavailable_error.ts";

/** The bridge's entry, started by `{ bridge: { spawn } }` when no `script` is given. */
export const ROS2_BRIDGE_SCRIPT: string = decodeURIComponent(
  new URL("./bridge/main.js", import.meta.url).pathname,
);

/** Options of {@linkcode Ros2Backend.create}. */
export interface Ros2BackendOptions {
  /** Aborts the creation (the wait for the bridge). */
  signal?: AbortSignal;
  /** Extra arguments for a spawned bridge (tests pass `--rclnodejs <stand-in>`). */
  spawnArgs?: readonly string[];
  /** Extra environment for a spawned bridge. */
  spawnEnv?: Readonly<Record<string, string>>;
}

/** What {@linkcode Ros2Backend.onFault} callbacks receive. */
export interface Ros2Fault {
  /** Why the bridge counts as gone: `"exited with code 1"`, `"stopped answering …"`, … */
  reason: string;
  /** The skills that were in flight and ended `backend_error` because of it. */
  inFlight: string[];
}

const SKILLS = [
  "detect",
  "pick",
  "place",
  "holding",
  "workspace",
  "wait",
  "say",
] as const;
type Skill = typeof SKILLS[number];

/** One invocation waiting for the bridge's `result`. */
interface _Pending {
  readonly skill: Skill;
  readonly settle: (outcome: SkillOutcome, held?: Obj) => void;
  readonly onFeedback: ((feedback: unknown) => void) | undefined;
  cancelRequested: boolean;
}

/**
 * The ROS 2 skills backend: each skill is a ROS 2 action or service (names
 * and interface types from {@linkcode Ros2Config}), run by the ROS 2 bridge
 * — a Node.js process holding rclnodejs (`bridge/main.js`; rclnodejs cannot
 * load under Deno) — over newline-delimited JSON (`cap-edge-ros2/1`).
 *
 * - Goals are built from the validated skill arguments; action feedback goes
 *   to `InvokeOptions.onFeedback`.
 * - Result status: SUCCEEDED → the decoded result; ABORTED → the result's
 *   `error_code` (a skill error code), or `backend_error` when it has none;
 *   CANCELED → `cancelled`; a rejected goal → `backend_error`.
 * - Aborting an invocation's signal cancels its goal; the bridge waits at most
 *   `cancelTimeoutMs` for it to end, the core at most `cancelTimeoutMs` plus
 *   `heartbeatTimeoutMs` for the bridge; then it ends `cancelled`.
 * - A server that is not there within `serverTimeoutMs` is `backend_error`
 *   naming the action or service.
 * - A `data: true` message on `estopTopic` (QoS `estopQos`) cancels every goal
 *   in flight and calls the {@linkcode Ros2Backend.onEstop} callbacks.
 * - Fail safe: when the bridge exits, its connection closes, it breaks the
 *   protocol or stops answering (`heartbeatTimeoutMs`), every skill in flight
 *   ends `backend_error`, the {@linkcode Ros2Backend.onFault} callbacks run
 *   (the core ends the run `stopped`), new ROS 2 skills are refused
 *   (`backend_error`) until a bridge is back (respawned, or reconnected), and
 *   that bridge first cancels every goal the core saw accepted and never saw
 *   end. A bridge whose core goes away cancels its goals itself.
 *
 * `wait` and `say` mapped `"local"` run here, without the bridge.
 */
export class Ros2Backend implements SkillBackend {
  /** Always `"ros2"`. */
  readonly kind = "ros2";
  /** The parsed configuration. */
  readonly config: Ros2Config;
  readonly #options: Ros2BackendOptions;
  readonly #pending = new Map<number, _Pending>();
  /** Goals sent and not yet reported ended, by invocation id. */
  readonly #goals = new Map<number, _Orphan>();
  #orphans: _Orphan[] = [];
  readonly #estopCallbacks = new Set<() => void>();
  readonly #faultCallbacks = new Set<(fault: Ros2Fault) => void>();
  readonly #readyListeners = new Set<
    { resolve: () => void; reject: (reason: unknown) => void }
  >();
  /** The latest description of each object `detect` reported. */
  readonly #seen = new Map<string, Obj>();
  /** The held object as the latest `holding` result described it. */
  #held: Obj | undefined;
  #connection: _Connection | undefined;
  #ready = false;
  #lastFault = "no bridge has connected yet";
  #unavailable: string | undefined;
  #nextId = 1;
  #disposed = false;
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;

  private constructor(config: Ros2Config, options: Ros2BackendOptions) {
    this.config = config;
    this.#options = options;
    this.#loop = this.#maintain();
  }

  /**
   * Creates the backend: parses `config`, starts or connects to the bridge
   * and waits (at most `connectTimeoutMs`) until it has initialised rclnodejs
   * and created its node, clients and e-stop subscription. Throws
   * {@linkcode Ros2UnavailableError} when the bridge cannot start ROS 2 or
   * does not answer in time, `TypeError` for a bad configuration.
   */
  static async create(
    config: Ros2ConfigInput,
    options: Ros2BackendOptions = {},
  ): Promise<Ros2Backend> {
    const parsed = parseRos2Config(config);
    options.signal?.throwIfAborted();
    const backend = new Ros2Backend(parsed, options);
    try {
      await backend.#untilFirstReady(options.signal);
    } catch (error) {
      await backend[Symbol.asyncDispose]();
      throw error;
    }
    return backend;
  }

  /** True while a bridge is connected and ready for skills. */
  get connected(): boolean {
    return this.#ready;
  }

  /** The process id of a spawned bridge (diagnostics and tests), else `null`. */
  get bridgePid(): number | null {
    return this.#connection?.pid ?? null;
  }

  /**
   * Resolves when a bridge is ready (at once if one is); rejects when
   * `signal` aborts or the backend is disposed ({@linkcode BackendDisposedError}).
   */
  whenConnected(signal?: AbortSignal): Promise<void> {
    if (this.#ready) return Promise.resolve();
    if (this.#disposed) {
      return Promise.reject(
        new BackendDisposedError("ros2", "wait for the ROS 2 bridge"),
      );
    }
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.#readyListeners.delete(listener);
        reject(signal?.reason);
      };
      const listener = {
        resolve: () => {
          this.#readyListeners.delete(listener);
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (reason: unknown) => {
          this.#readyListeners.delete(listener);
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      this.#readyListeners.add(listener);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * The world as `detect()` (no query) and `holding()` report it, plus the
   * held object (described by `holding`'s optional `object` field, else as
   * last detected); `null` when either call fails.
   */
  async world(
    options: { signal?: AbortSignal } = {},
  ): Promise<WorldState | null> {
    const invokeOptions: InvokeOptions = options.signal === undefined
      ? {}
      : { signal: options.signal };
    const objects = await this.invoke("detect", [], invokeOptions);
    if (!objects.ok) return null;
    const holding = await this.invoke("holding", [], invokeOptions);
    if (!holding.ok) return null;
    const held = holding.value as string | null;
    const list = [...objects.value as Obj[]];
    if (held !== null && !list.some((o) => o.id === held)) {
      // Not on the table: as `holding` described it, else as last detected.
      const known = this.#held?.id === held ? this.#held : this.#seen.get(held);
      if (known !== undefined) list.push({ ...known, on: null });
    }
    return { objects: list, holding: held };
  }

  /**
   * Calls `callback` on every `data: true` message of the e-stop topic (the
   * bridge cancels its goals in flight). Dispose the result to stop.
   */
  onEstop(callback: () => void): Disposable {
    this.#estopCallbacks.add(callback);
    return { [Symbol.dispose]: () => this.#estopCallbacks.delete(callback) };
  }

  /**
   * Calls `callback` each time a ready bridge is lost (exited, closed,
   * broke the protocol, stopped answering). The core wires it to its stop
   * path so that the run in flight ends `stopped` with `fault.reason`. New
   * ROS 2 skills are refused until the bridge is back. Dispose to stop.
   */
  onFault(callback: (fault: Ros2Fault) => void): Disposable {
    this.#faultCallbacks.add(callback);
    return { [Symbol.dispose]: () => this.#faultCallbacks.delete(callback) };
  }

  /**
   * Cancels the skills in flight (bounded waits), closes the channel (the
   * bridge cancels anything left and, when spawned, exits; it is killed if
   * it does not within `cancelTimeoutMs` + `heartbeatTimeoutMs`).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const listener of [...this.#readyListeners]) {
      listener.reject(
        new BackendDisposedError("ros2", "wait for the ROS 2 bridge"),
      );
    }
    const inFlight = [...this.#pending.entries()];
    for (const [id, pending] of inFlight) this.#requestCancel(id, pending);
    if (inFlight.length > 0) {
      await _quietly(this.#untilIdle(), this.#cancelBoundMs());
    }
    this.#stop.abort();
    this.#connection?.close();
    const connection = this.#connection;
    if (connection !== undefined) {
      const ended = await _quietly(connection.done, this.#cancelBoundMs());
      if (!ended) connection.kill();
    }
    await this.#loop;
    this.#failPending("cancelled", "the ros2 backend was closed");
  }

  /**
   * Runs a skill as its ROS 2 action or service and resolves when it ended.
   * World errors, backend failures (no bridge, bridge lost) and cancellation
   * resolve `{ ok: false }`; only use after dispose throws
   * ({@linkcode BackendDisposedError}).
   */
  async invoke(
    skill: string,
    args: readonly unknown[],
    options: InvokeOptions = {},
  ): Promise<SkillOutcome> {
    if (this.#disposed) {
      throw new BackendDisposedError("ros2", `run ${skill}`);
    }
    if (!_isSkill(skill)) {
      return _fail(
        "invalid_argument",
        `Cannot run "${skill}": the ros2 backend has no such skill`,
      );
    }
    if (options.signal?.aborted) {
      return _fail("cancelled", `Cannot finish ${skill}: it was cancelled`);
    }
    const mapping = this.config.skills[skill];
    if (mapping === "local") {
      return await _runLocal(skill, args, options);
    }
    const connection = this.#connection;
    if (!this.#ready || connection === undefined) {
      return _fail(
        "backend_error",
        `Cannot run ${skill}: the ROS 2 bridge is not connected (${this.#lastFault}); the ROS 2 ${mapping.type} "${mapping.name}" cannot be reached`,
      );
    }
    const id = this.#nextId++;
    let onAbort = () => {};
    let cancelTimer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await new Promise<SkillOutcome>((resolve) => {
      const pending: _Pending = {
        skill,
        onFeedback: options.onFeedback,
        cancelRequested: false,
        settle: (result, held) => {
          if (!this.#pending.delete(id)) return;
          this.#note(skill, result, held);
          resolve(result);
        },
      };
      this.#pending.set(id, pending);
      onAbort = () => {
        this.#requestCancel(id, pending);
        cancelTimer = setTimeout(
          () =>
            pending.settle(_fail(
              "cancelled",
              `Cannot finish ${skill}: it was cancelled (the ROS 2 bridge did not confirm within ${this.#cancelBoundMs()} ms)`,
            )),
          this.#cancelBoundMs(),
        );
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      // The core names the goal, so that it knows the id before the goal
      // exists: a bridge that dies right after sending it leaves no goal
      // the next bridge cannot cancel.
      const goalId = mapping.type === "action"
        ? crypto.randomUUID().replaceAll("-", "")
        : undefined;
      if (goalId !== undefined) {
        this.#goals.set(id, { action: mapping.name, goalId });
      }
      connection.send({
        type: "invoke",
        id,
        skill,
        args: [...args],
        ...(goalId === undefined ? {} : { goalId }),
      });
    });
    options.signal?.removeEventListener("abort", onAbort);
    clearTimeout(cancelTimer);
    if (this.#pending.size === 0) this.#idle();
    return outcome;
  }

  #requestCancel(id: number, pending: _Pending): void {
    if (pending.cancelRequested) return;
    pending.cancelRequested = true;
    if (this.#ready) this.#connection?.send({ type: "cancel", id });
  }

  #cancelBoundMs(): number {
    return this.config.cancelTimeoutMs + this.config.heartbeatTimeoutMs;
  }

  readonly #idleListeners = new Set<() => void>();

  #idle(): void {
    for (const listener of [...this.#idleListeners]) listener();
  }

  #untilIdle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = () => {
        this.#idleListeners.delete(listener);
        resolve();
      };
      this.#idleListeners.add(listener);
    });
  }

  /** Remembers what `detect` and `holding` reported, for `world()`. */
  #note(skill: Skill, outcome: SkillOutcome, held: Obj | undefined): void {
    if (skill === "holding") this.#held = outcome.ok ? held : undefined;
    if (outcome.ok && skill === "detect") {
      for (const obj of outcome.value as Obj[]) this.#seen.set(obj.id, obj);
    }
  }

  async #untilFirstReady(signal: AbortSignal | undefined): Promise<void> {
    const { connectTimeoutMs } = this.config;
    const where = "socket" in this.config.bridge
      ? `on "${this.config.bridge.socket}"`
      : "(spawned)";
    const giveUp = new AbortController();
    const timer = setTimeout(() => giveUp.abort(), connectTimeoutMs);
    const onAbort = () => giveUp.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const unavailable = new Promise<never>((_, reject) => {
      this.#onUnavailable = () =>
        reject(
          new Ros2UnavailableError(
            `Cannot start the ROS 2 backend: ${this.#unavailable}`,
          ),
        );
    });
    unavailable.catch(() => {});
    try {
      await Promise.race([this.whenConnected(giveUp.signal), unavailable]);
    } catch (error) {
      if (error instanceof Ros2UnavailableError) throw error;
      if (signal?.aborted) throw signal.reason;
      throw new Ros2UnavailableError(
        `Cannot start the ROS 2 backend: no ROS 2 bridge was ready ${where} within ${connectTimeoutMs} ms (${this.#lastFault})`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      giveUp.abort();
      this.#onUnavailable = () => {};
    }
  }

  #onUnavailable: () => void = () => {};

  /** Connects (or spawns), serves the connection, and starts over after a loss, until disposed. */
  async #maintain(): Promise<void> {
    let backoffMs = 100;
    while (!this.#stop.signal.aborted) {
      let connection: _Connection;
      try {
        connection = await this.#open();
      } catch (error) {
        this.#lastFault = (error as Error).message;
        await delay(backoffMs, { signal: this.#stop.signal }).catch(() => {});
        backoffMs = Math.min(backoffMs * 2, 2_000);
        continue;
      }
      this.#connection = connection;
      const wasReady = await this.#serve(connection);
      if (wasReady) backoffMs = 100;
      this.#connection = undefined;
      await delay(backoffMs, { signal: this.#stop.signal }).catch(() => {});
      backoffMs = Math.min(backoffMs * 2, 2_000);
    }
  }

  /** Serves one connection until it ends; true when the bridge had been ready on it. */
  async #serve(connection: _Connection): Promise<boolean> {
    let reason = "closed the channel";
    let lastHeard = Date.now();
    let greeted = false;
    let wasReady = false;
    let pingId = 0;
    const heartbeat = setInterval(() => {
      // Until it is ready the bridge may be starting ROS 2: connectTimeoutMs bounds that.
      const limit = wasReady
        ? this.config.heartbeatTimeoutMs
        : this.config.connectTimeoutMs;
      if (Date.now() - lastHeard > limit) {
        reason = `stopped answering (nothing for ${limit} ms)`;
        connection.kill();
        return;
      }
      connection.send({ type: "ping", id: ++pingId });
    }, this.config.heartbeatMs);
    connection.send({ type: "hello", protocol: _PROTOCOL });
    connection.send({
      type: "configure",
      config: _bridgeConfig(this.config),
      orphans: this.#orphans,
    });
    try {
      for await (const raw of _readNdjson(connection.readable)) {
        lastHeard = Date.now();
        const checked = _BridgeMessage.safeParse(raw);
        if (!checked.success) {
          reason = `broke the protocol (${
            checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)
              .join("; ")
          })`;
          connection.kill();
          break;
        }
        const message = checked.data;
        if (!greeted) {
          if (message.type !== "hello" || message.protocol !== _PROTOCOL) {
            reason = `does not speak ${_PROTOCOL} (its first message: ${
              JSON.stringify(raw).slice(0, 120)
            })`;
            connection.kill();
            break;
          }
          greeted = true;
          continue;
        }
        if (this.#handle(message)) wasReady = true;
      }
    } catch (error) {
      reason = `broke the channel (${(error as Error).message})`;
      connection.kill();
    } finally {
      clearInterval(heartbeat);
      connection.close();
    }
    await connection.done;
    const exit = connection.exitReason();
    if (exit !== undefined && reason === "closed the channel") reason = exit;
    this.#lost(`the ROS 2 bridge ${reason}`, wasReady || this.#ready);
    return wasReady;
  }

  /** Handles one checked message; true when it made the bridge ready. */
  #handle(message: _BridgeMessage): boolean {
    switch (message.type) {
      case "hello":
        return false;
      case "ready":
        this.#orphans = [];
        for (const orphan of message.orphans) {
          if (!orphan.cancelled) {
            console.error(
              `cap-edge ros2: could not cancel the goal ${orphan.goalId} left by an earlier bridge: ${orphan.message}`,
            );
          }
        }
        this.#ready = true;
        this.#unavailable = undefined;
        for (const listener of [...this.#readyListeners]) listener.resolve();
        return true;
      case "unavailable":
        this.#unavailable = message.message;
        this.#lastFault = message.message;
        this.#onUnavailable();
        return false;
      case "feedback": {
        const pending = this.#pending.get(message.id);
        try {
          pending?.onFeedback?.(message.feedback);
        } catch (error) {
          console.error(
            `A feedback listener of ${pending?.skill} failed: ${
              (error as Error).message
            }`,
          );
        }
        return false;
      }
      case "result": {
        this.#goals.delete(message.id);
        const outcome = message.outcome;
        const result: SkillOutcome = outcome.ok
          ? { ok: true, value: outcome.value ?? null }
          : { ok: false, error: outcome.error };
        this.#pending.get(message.id)?.settle(
          result,
          outcome.ok ? outcome.held : undefined,
        );
        return false;
      }
      case "estop":
        for (const callback of [...this.#estopCallbacks]) {
          try {
            callback();
          } catch (error) {
            console.error(
              `An e-stop callback of the ros2 backend failed: ${
                (error as Error).message
              }`,
            );
          }
        }
        return false;
      case "pong":
        return false;
    }
  }

  /** The bridge is gone: fail what was in flight, keep its goals for the next one, tell the core. */
  #lost(reason: string, wasReady: boolean): void {
    this.#ready = false;
    this.#lastFault = reason;
    for (const orphan of this.#goals.values()) {
      if (!this.#orphans.some((o) => o.goalId === orphan.goalId)) {
        this.#orphans.push(orphan);
      }
    }
    this.#goals.clear();
    const inFlight = [...this.#pending.values()].map((p) => p.skill);
    this.#failPending("backend_error", reason);
    if (!wasReady || this.#disposed) return;
    for (const callback of [...this.#faultCallbacks]) {
      try {
        callback({ reason, inFlight });
      } catch (error) {
        console.error(
          `A fault callback of the ros2 backend failed: ${
            (error as Error).message
          }`,
        );
      }
    }
  }

  #failPending(code: SkillErrorCode, reason: string): void {
    for (const pending of [...this.#pending.values()]) {
      pending.settle(
        pending.cancelRequested
          ? _fail("cancelled", `Cannot finish ${pending.skill}: ${reason}`)
          : _fail(code, `Cannot finish ${pending.skill}: ${reason}`),
      );
    }
  }

  async #open(): Promise<_Connection> {
    const bridge = this.config.bridge;
    if ("socket" in bridge) return await _connectSocket(bridge.socket);
    return _spawn(
      bridge.spawn.node,
      [
        bridge.spawn.script ?? ROS2_BRIDGE_SCRIPT,
        ...(this.#options.spawnArgs ?? []),
      ],
      this.#options.spawnEnv ?? {},
    );
  }
}

/** The configuration the bridge needs: ROS 2 names, timeouts, e-stop, and each ROS 2 skill's full goal mapping. */
function _bridgeConfig(config: Ros2Config): Record<string, unknown> {
  const skills: Record<string, unknown> = {};
  for (const skill of SKILLS) {
    const mapping = config.skills[skill];
    if (mapping === "local") continue;
    skills[skill] = {
      type: mapping.type,
      name: mapping.name,
      interface: mapping.interface,
      goal: mapping.goal ?? ROS2_DEFAULT_GOALS[skill],
      timeoutMs: mapping.timeoutMs,
    };
  }
  return {
    nodeName: config.nodeName,
    namespace: config.namespace,
    serverTimeoutMs: config.serverTimeoutMs,
    cancelTimeoutMs: config.cancelTimeoutMs,
    estopTopic: config.estopTopic,
    estopQos: config.estopQos,
    coreTimeoutMs: config.heartbeatTimeoutMs,
    skills,
  };
}

async function _runLocal(
  skill: Skill,
  args: readonly unknown[],
  options: InvokeOptions,
): Promise<SkillOutcome> {
  if (skill !== "wait") return { ok: true, value: null };
  try {
    await delay((args[0] as number) * 1000, options);
  } catch {
    return _fail("cancelled", `Cannot finish ${skill}: it was cancelled`);
  }
  return { ok: true, value: null };
}

function _fail(code: SkillErrorCode, message: string): SkillOutcome {
  return { ok: false, error: { code, message } };
}

function _isSkill(name: string): name is Skill {
  return (SKILLS as readonly string[]).includes(name);
}

/** True when `promise` settled within `ms`. */
async function _quietly(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise.then(() => true, () => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
