import { BackendDisposedError } from "../sim/mod.ts";
import type { Obj, WorldState } from "../skill_api.ts";
import type {
  InvokeOptions,
  SkillBackend,
  SkillOutcome,
} from "../skill_backend.ts";
import type { SkillErrorCode } from "../skill_error.ts";
import {
  parseRos2Config,
  ROS2_DEFAULT_GOALS,
  type Ros2Config,
  type Ros2ConfigInput,
  type Ros2SkillMapping,
} from "./ros2_config.ts";
import { Ros2UnavailableError } from "./ros2_unavailable_error.ts";
import {
  type ActionClientLike,
  type ClientGoalHandleLike,
  GoalStatus,
  type NodeLike,
  type RclnodejsLike,
  type RosMessage,
  type ServiceClientLike,
} from "./_rclnodejs_types.ts";
import {
  _brief,
  _buildGoal,
  _decodeHeldObject,
  _decodeResult,
  _goalSources,
} from "./_ros2_messages.ts";

/** The npm specifier the ros2 backend imports rclnodejs from, lazily. */
export const RCLNODEJS_SPECIFIER = "npm:rclnodejs@^1";

/** Options of {@linkcode Ros2Backend.create}. */
export interface Ros2BackendOptions {
  /** An rclnodejs module to use instead of importing the real one (tests inject a stand-in). */
  rclnodejs?: RclnodejsLike;
  /** Aborts the creation. */
  signal?: AbortSignal;
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

/** Why an invocation was stopped before its goal ended. */
type StopReason = "cancelled" | "estop" | "disposed" | "timeout";

/** One `init()` per rclnodejs module, shared by every backend on it, shut down with the last. */
const contexts = new WeakMap<
  RclnodejsLike,
  { users: number; ready: Promise<void> }
>();

/**
 * The ROS 2 skills backend: each skill is a ROS 2 action or service (names
 * and interface types from {@linkcode Ros2Config}), driven through rclnodejs.
 *
 * - Goals are built from the validated skill arguments; action feedback goes
 *   to `InvokeOptions.onFeedback`.
 * - Result status: SUCCEEDED → the decoded result; ABORTED → the result's
 *   `error_code` (a skill error code), or `backend_error` when it has none;
 *   CANCELED → `cancelled`; a rejected goal → `backend_error`.
 * - Aborting an invocation's signal sends `cancelGoal()` for its goal, waits
 *   at most `cancelTimeoutMs` for the goal to end, then ends `cancelled`.
 * - A server that is not there within `serverTimeoutMs` is `backend_error`
 *   naming the action or service.
 * - A `data: true` message on `estopTopic` (`std_msgs/msg/Bool`) cancels
 *   every goal in flight and calls the {@linkcode Ros2Backend.onEstop} callbacks.
 *
 * rclnodejs is imported only by {@linkcode Ros2Backend.create}, and only when
 * no module is injected; without a sourced ROS 2 it throws
 * {@linkcode Ros2UnavailableError}.
 */
export class Ros2Backend implements SkillBackend {
  /** Always `"ros2"`. */
  readonly kind = "ros2";
  /** The parsed configuration. */
  readonly config: Ros2Config;
  readonly #rcl: RclnodejsLike;
  readonly #node: NodeLike;
  readonly #actions = new Map<Skill, ActionClientLike>();
  readonly #services = new Map<Skill, ServiceClientLike>();
  readonly #estopCallbacks = new Set<() => void>();
  readonly #inFlight = new Set<AbortController>();
  readonly #running = new Set<Promise<SkillOutcome>>();
  /** The latest description of each object `detect` reported. */
  readonly #seen = new Map<string, Obj>();
  /** The held object as the latest `holding` result described it. */
  #held: Obj | undefined;
  #disposed = false;

  private constructor(rcl: RclnodejsLike, config: Ros2Config) {
    this.#rcl = rcl;
    this.config = config;
    this.#node = new rcl.Node(config.nodeName, config.namespace);
    try {
      for (const skill of SKILLS) {
        const mapping = config.skills[skill];
        if (mapping === "local") continue;
        try {
          if (mapping.type === "action") {
            this.#actions.set(
              skill,
              new rcl.ActionClient(this.#node, mapping.interface, mapping.name),
            );
          } else {
            this.#services.set(
              skill,
              this.#node.createClient(mapping.interface, mapping.name),
            );
          }
        } catch (error) {
          throw new Error(
            `Cannot create the ROS 2 ${mapping.type} client for ${skill}: "${mapping.name}" (${mapping.interface}) failed: ${
              _message(error)
            }`,
            { cause: error },
          );
        }
      }
      if (config.estopTopic !== null) {
        this.#node.createSubscription(
          "std_msgs/msg/Bool",
          config.estopTopic,
          (message) => this.#onEstopMessage(message),
        );
      }
      this.#node.spin();
    } catch (error) {
      this.#node.destroy();
      throw error;
    }
  }

  /**
   * Creates the backend: parses `config`, imports rclnodejs (unless
   * injected), calls `init()`, creates the node, its action and service
   * clients and the e-stop subscription, and spins the node (`node.spin()`).
   * Throws {@linkcode Ros2UnavailableError} when ROS 2 is not sourced or
   * rclnodejs cannot start, `TypeError` for a bad configuration.
   */
  static async create(
    config: Ros2ConfigInput,
    options: Ros2BackendOptions = {},
  ): Promise<Ros2Backend> {
    const parsed = parseRos2Config(config);
    options.signal?.throwIfAborted();
    const rcl = options.rclnodejs ?? await _importRclnodejs();
    options.signal?.throwIfAborted();
    await _acquire(rcl);
    try {
      options.signal?.throwIfAborted();
      return new Ros2Backend(rcl, parsed);
    } catch (error) {
      _release(rcl);
      throw error;
    }
  }

  /**
   * Runs a skill as its ROS 2 action or service and resolves when it ended.
   * World errors, backend failures and cancellation resolve `{ ok: false }`;
   * only use after dispose throws ({@linkcode BackendDisposedError}).
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
    if (options.signal?.aborted) return _cancelled(skill, "cancelled");
    const mapping = this.config.skills[skill];
    const stop = new AbortController();
    const timer = mapping === "local"
      ? undefined
      : setTimeout(() => stop.abort("timeout"), mapping.timeoutMs);
    const onAbort = () => stop.abort("cancelled");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.#inFlight.add(stop);
    const run = (async (): Promise<SkillOutcome> => {
      try {
        if (mapping === "local") {
          return await this.#runLocal(skill, args, stop.signal);
        }
        return mapping.type === "action"
          ? await this.#runAction(skill, mapping, args, stop, options)
          : await this.#runService(skill, mapping, args, stop);
      } catch (error) {
        return _fail(
          "backend_error",
          `Cannot run ${skill} over ROS 2: ${_message(error)}`,
        );
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.#inFlight.delete(stop);
      }
    })();
    this.#running.add(run);
    try {
      return await run;
    } finally {
      this.#running.delete(run);
    }
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
   * Calls `callback` on every `data: true` message of the e-stop topic (after
   * the backend cancelled its goals in flight). Dispose the result to stop.
   */
  onEstop(callback: () => void): Disposable {
    this.#estopCallbacks.add(callback);
    return { [Symbol.dispose]: () => this.#estopCallbacks.delete(callback) };
  }

  /** Cancels the goals in flight (bounded waits), destroys the node, shuts rclnodejs down with its last user. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const stop of this.#inFlight) stop.abort("disposed");
    await Promise.allSettled([...this.#running]);
    for (const client of this.#actions.values()) client.destroy();
    this.#node.destroy();
    _release(this.#rcl);
  }

  #onEstopMessage(message: RosMessage): void {
    if (message.data !== true) return;
    for (const stop of this.#inFlight) stop.abort("estop");
    for (const callback of [...this.#estopCallbacks]) {
      try {
        callback();
      } catch (error) {
        console.error(
          `An e-stop callback of the ros2 backend failed: ${_message(error)}`,
        );
      }
    }
  }

  async #runLocal(
    skill: Skill,
    args: readonly unknown[],
    signal: AbortSignal,
  ): Promise<SkillOutcome> {
    if (skill === "wait") {
      const done = await _sleep((args[0] as number) * 1000, signal);
      return done ? { ok: true, value: null } : _stopped(skill, signal);
    }
    return { ok: true, value: null };
  }

  async #runAction(
    skill: Skill,
    mapping: Ros2SkillMapping,
    args: readonly unknown[],
    stop: AbortController,
    options: InvokeOptions,
  ): Promise<SkillOutcome> {
    const client = this.#actions.get(skill) as ActionClientLike;
    const what = `the ROS 2 action "${mapping.name}" (${mapping.interface})`;
    const { serverTimeoutMs, cancelTimeoutMs } = this.config;
    const down = await this.#untilServer(
      skill,
      mapping,
      client.waitForServer(serverTimeoutMs),
      { what, signal: stop.signal },
    );
    if (down !== null) return down;
    const goal = _goalFor(skill, mapping, args);
    const onFeedback = options.onFeedback;
    const sent = client.sendGoal(goal, (feedback) => {
      try {
        onFeedback?.(feedback);
      } catch (error) {
        console.error(
          `A feedback listener of ${skill} failed: ${_message(error)}`,
        );
      }
    });
    const answered = await _untilStopped(sent, stop.signal);
    if (!answered.done) {
      // The goal may be accepted after the stop: wait for the answer, then cancel it.
      const late = await _within(sent, cancelTimeoutMs);
      if (late.done && late.value.accepted) {
        await this.#cancelGoal(late.value, _quiet(late.value.getResult()));
      }
      return _stopped(skill, stop.signal, mapping);
    }
    const handle = answered.value;
    if (!handle.accepted) {
      return _fail(
        "backend_error",
        `Cannot run ${skill}: ${what} rejected the goal ${_brief(goal)}`,
      );
    }
    const result = _quiet(handle.getResult());
    const ended = await _untilStopped(result, stop.signal);
    if (!ended.done) {
      await this.#cancelGoal(handle, result);
      return _stopped(skill, stop.signal, mapping);
    }
    return this.#note(
      skill,
      ended.value,
      _fromStatus(skill, what, handle.status, ended.value),
    );
  }

  /** Remembers what `detect` and `holding` reported, for `world()`. */
  #note(
    skill: Skill,
    message: RosMessage,
    outcome: SkillOutcome,
  ): SkillOutcome {
    if (!outcome.ok && skill === "holding") this.#held = undefined;
    if (!outcome.ok) return outcome;
    if (skill === "detect") {
      for (const obj of outcome.value as Obj[]) this.#seen.set(obj.id, obj);
    } else if (skill === "holding") {
      this.#held = _decodeHeldObject(message);
    }
    return outcome;
  }

  /** Sends `cancelGoal()` and waits at most `cancelTimeoutMs` for the goal to end. */
  async #cancelGoal(
    handle: ClientGoalHandleLike,
    result: Promise<RosMessage>,
  ): Promise<void> {
    _quiet(handle.cancelGoal());
    await _within(result, this.config.cancelTimeoutMs);
  }

  /**
   * Waits for `what`'s server (`ready` says whether it came within
   * `serverTimeoutMs`); the outcome to answer when it did not or the skill
   * was stopped meanwhile, `null` when the server is up.
   */
  async #untilServer(
    skill: Skill,
    mapping: Ros2SkillMapping,
    ready: Promise<boolean>,
    options: { what: string; signal: AbortSignal },
  ): Promise<SkillOutcome | null> {
    const up = await _untilStopped(ready, options.signal);
    if (!up.done) return _stopped(skill, options.signal, mapping);
    if (up.value) return null;
    return _fail(
      "backend_error",
      `Cannot run ${skill}: ${options.what} has no server (none became available within ${this.config.serverTimeoutMs} ms)`,
    );
  }

  async #runService(
    skill: Skill,
    mapping: Ros2SkillMapping,
    args: readonly unknown[],
    stop: AbortController,
  ): Promise<SkillOutcome> {
    const client = this.#services.get(skill) as ServiceClientLike;
    const what = `the ROS 2 service "${mapping.name}" (${mapping.interface})`;
    const down = await this.#untilServer(
      skill,
      mapping,
      client.waitForService(this.config.serverTimeoutMs),
      { what, signal: stop.signal },
    );
    if (down !== null) return down;
    const request = _goalFor(skill, mapping, args);
    // A service call cannot be cancelled in ROS 2: on a stop its late response is dropped.
    const response = await _untilStopped(
      new Promise<RosMessage>((resolve) =>
        client.sendRequest(request, resolve)
      ),
      stop.signal,
    );
    if (!response.done) return _stopped(skill, stop.signal, mapping);
    return this.#note(
      skill,
      response.value,
      _decodeResult(skill, what, response.value),
    );
  }
}

/** Imports the real rclnodejs, after checking that ROS 2 is sourced. */
async function _importRclnodejs(): Promise<RclnodejsLike> {
  let prefix: string | undefined;
  try {
    prefix = Deno.env.get("AMENT_PREFIX_PATH");
  } catch (error) {
    throw new Ros2UnavailableError(
      `Cannot start the ROS 2 backend: cannot read AMENT_PREFIX_PATH to find ROS 2 (${
        _message(error)
      })`,
      { cause: error },
    );
  }
  if (prefix === undefined || prefix === "") {
    throw new Ros2UnavailableError(
      "Cannot start the ROS 2 backend: ROS 2 is not sourced (AMENT_PREFIX_PATH is not set); run `source /opt/ros/<distro>/setup.bash` first",
    );
  }
  // A variable, so that type checking and `deno cache` never resolve rclnodejs.
  const specifier: string = RCLNODEJS_SPECIFIER;
  let module: Record<string, unknown>;
  try {
    module = await import(specifier);
  } catch (error) {
    throw new Ros2UnavailableError(
      `Cannot start the ROS 2 backend: cannot import rclnodejs from "${specifier}" (ROS 2 at "${prefix}"): ${
        _message(error)
      }`,
      { cause: error },
    );
  }
  const rcl = (module.default ?? module) as Partial<RclnodejsLike>;
  if (
    typeof rcl.init !== "function" || typeof rcl.Node !== "function" ||
    typeof rcl.ActionClient !== "function"
  ) {
    throw new Ros2UnavailableError(
      `Cannot start the ROS 2 backend: "${specifier}" does not look like rclnodejs (no init, Node or ActionClient)`,
    );
  }
  return rcl as RclnodejsLike;
}

async function _acquire(rcl: RclnodejsLike): Promise<void> {
  let context = contexts.get(rcl);
  if (context === undefined) {
    const ready = (async () => {
      try {
        await rcl.init();
      } catch (error) {
        contexts.delete(rcl);
        throw new Ros2UnavailableError(
          `Cannot start the ROS 2 backend: rclnodejs.init() failed (is ROS 2 sourced and its middleware installed?): ${
            _message(error)
          }`,
          { cause: error },
        );
      }
    })();
    context = { users: 0, ready };
    contexts.set(rcl, context);
  }
  context.users++;
  try {
    await context.ready;
  } catch (error) {
    context.users--;
    throw error;
  }
}

function _release(rcl: RclnodejsLike): void {
  const context = contexts.get(rcl);
  if (context === undefined) return;
  context.users--;
  if (context.users > 0) return;
  contexts.delete(rcl);
  rcl.shutdown();
}

function _fromStatus(
  skill: Skill,
  what: string,
  status: number,
  message: RosMessage,
): SkillOutcome {
  switch (status) {
    case GoalStatus.STATUS_SUCCEEDED:
      return _decodeResult(skill, what, message);
    case GoalStatus.STATUS_ABORTED: {
      const decoded = _decodeResult(skill, what, message);
      if (!decoded.ok) return decoded;
      return _fail(
        "backend_error",
        `Cannot run ${skill}: ${what} aborted the goal without an error code`,
      );
    }
    case GoalStatus.STATUS_CANCELED:
      return _fail(
        "cancelled",
        `Cannot finish ${skill}: ${what} cancelled the goal`,
      );
    default:
      return _fail(
        "backend_error",
        `Cannot run ${skill}: ${what} ended the goal with status ${status}, not SUCCEEDED, ABORTED or CANCELED`,
      );
  }
}

function _stopped(
  skill: Skill,
  signal: AbortSignal,
  mapping?: Ros2SkillMapping,
): SkillOutcome {
  const reason = signal.reason as StopReason;
  if (reason === "timeout" && mapping !== undefined) {
    return _fail(
      "backend_error",
      `Cannot run ${skill}: the ROS 2 ${mapping.type} "${mapping.name}" did not finish within ${mapping.timeoutMs} ms`,
    );
  }
  return _cancelled(skill, reason);
}

function _cancelled(skill: string, reason: StopReason): SkillOutcome {
  const why = reason === "estop"
    ? "an emergency stop came from the ROS 2 e-stop topic"
    : reason === "disposed"
    ? "the ros2 backend was closed"
    : "it was cancelled";
  return _fail("cancelled", `Cannot finish ${skill}: ${why}`);
}

/** The goal (or request) message of `skill` called with `args`. */
function _goalFor(
  skill: Skill,
  mapping: Ros2SkillMapping,
  args: readonly unknown[],
): RosMessage {
  return _buildGoal(
    mapping.goal ?? ROS2_DEFAULT_GOALS[skill],
    _goalSources(skill, args),
  );
}

function _fail(code: SkillErrorCode, message: string): SkillOutcome {
  return { ok: false, error: { code, message } };
}

function _isSkill(name: string): name is Skill {
  return (SKILLS as readonly string[]).includes(name);
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Marks a promise's rejection as handled (it may be abandoned) and returns it. */
function _quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

type Settled<T> = { done: true; value: T } | { done: false };

/** Settles with the promise, or `{ done: false }` as soon as `signal` aborts. */
async function _untilStopped<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<Settled<T>> {
  if (signal.aborted) return { done: false };
  let onAbort = () => {};
  const stopped = new Promise<Settled<T>>((resolve) => {
    onAbort = () => resolve({ done: false });
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([
      promise.then((value): Settled<T> => ({ done: true, value })),
      stopped,
    ]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Settles with the promise, or `{ done: false }` after `ms`. */
async function _within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<Settled<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ done: true, value }),
        (): Settled<T> => ({ done: false }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function _sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
