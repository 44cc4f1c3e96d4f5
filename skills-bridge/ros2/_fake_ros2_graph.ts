/**
 * A fake ROS 2 graph for the ros2 tests: action servers, service servers and
 * topics, living in the test's own process and reached by the rclnodejs
 * stand-in (`bridge/testing/fake_rclnodejs.js`) inside the real bridge
 * process over a Unix socket (`CAP_FAKE_ROS2_GRAPH`). Like a robot's real
 * servers it outlives any bridge: a goal keeps running when its client dies,
 * until someone cancels it.
 *
 * Server side modelled on rclnodejs's `ActionServer`: a goal callback
 * accepts or rejects, a cancel callback accepts, rejects or ignores, an
 * execute callback gets a goal handle (`publishFeedback`, `succeed`, `abort`,
 * `canceled`, `isCancelRequested`) and returns the result; an execute that
 * leaves the goal non-terminal aborts it, as rclpy does. Each action server
 * also answers its `<name>/_action/cancel_goal` service
 * (`action_msgs/srv/CancelGoal`). Test-only: not exported from any mod.ts.
 * @module
 */
import type { Obj } from "../skill_api.ts";
import type { SkillBackend } from "../skill_backend.ts";
import { _encodeNdjson, _readNdjson } from "./_ndjson.ts";
import type { Ros2Config } from "./ros2_config.ts";

/** A ROS message: a plain object. */
export type RosMessage = Record<string, unknown>;

/** `action_msgs/msg/GoalStatus` constants. */
export const GoalStatus = {
  STATUS_UNKNOWN: 0,
  STATUS_ACCEPTED: 1,
  STATUS_EXECUTING: 2,
  STATUS_CANCELING: 3,
  STATUS_SUCCEEDED: 4,
  STATUS_CANCELED: 5,
  STATUS_ABORTED: 6,
} as const;

/** `action_msgs/srv/CancelGoal` response `return_code` constants. */
export const CancelReturnCode = {
  ERROR_NONE: 0,
  ERROR_REJECTED: 1,
  ERROR_UNKNOWN_GOAL_ID: 2,
  ERROR_GOAL_TERMINATED: 3,
} as const;

/** The server side of one goal, handed to an action server's `execute`. */
export interface FakeServerGoalHandle {
  /** The goal id (32 hex digits). */
  readonly goalId: string;
  /** The goal message. */
  readonly request: RosMessage;
  /** The current `GoalStatus`. */
  readonly status: number;
  /** True once a cancel request was accepted. */
  readonly isCancelRequested: boolean;
  /** Aborts when a cancel request is accepted. */
  readonly cancelSignal: AbortSignal;
  /** Publishes a feedback message for this goal. */
  publishFeedback(feedback: RosMessage): void;
  /** Ends the goal SUCCEEDED (the result is what `execute` returns). */
  succeed(): void;
  /** Ends the goal ABORTED. */
  abort(): void;
  /** Ends the goal CANCELED (after a cancel request). */
  canceled(): void;
}

/** An action server in the fake graph. */
export interface FakeActionServerOptions {
  /** Accept or reject a new goal. Default: accept. */
  goal?(request: RosMessage): "accept" | "reject";
  /** Accept or reject a cancel request, or `"ignore"` it (never answered). Default: accept. */
  cancel?(goal: FakeServerGoalHandle): "accept" | "reject" | "ignore";
  /** Runs an accepted goal and returns its result message. */
  execute(goal: FakeServerGoalHandle): Promise<RosMessage> | RosMessage;
}

/** A service server: request → response, or `"ignore"` (never answered). */
export type FakeServiceHandler = (
  request: RosMessage,
) => Promise<RosMessage | "ignore"> | RosMessage | "ignore";

/** One thing that happened in the graph, for tests to check. */
export interface FakeRosEvent {
  /** What happened. */
  kind:
    | "goal_accepted"
    | "goal_rejected"
    | "cancel_requested"
    | "goal_ended"
    | "service_called";
  /** The action, service or topic name. */
  name: string;
  /** The goal or request message. */
  message?: RosMessage;
  /** The terminal `GoalStatus` (for `goal_ended`). */
  status?: number;
}

/** A message from the stand-in (checked by the stand-in's own code, test-only). */
// deno-lint-ignore no-explicit-any
type _Op = Record<string, any>;

type _Reliability = "reliable" | "best_effort";

interface _ActionServer {
  readonly name: string;
  readonly type: string;
  readonly options: FakeActionServerOptions;
  readonly goals: Map<string, _ServerGoal>;
}

interface _ServiceServer {
  readonly name: string;
  readonly type: string;
  readonly handler: FakeServiceHandler;
}

interface _Subscription {
  readonly link: _Link;
  readonly subId: number;
  readonly topic: string;
  readonly type: string;
  readonly reliability: _Reliability;
}

interface _Waiter {
  readonly matches: () => boolean;
  readonly finish: (found: boolean) => void;
}

/** One connected stand-in (one bridge process). */
class _Link {
  readonly conn: Deno.Conn;
  #writing: Promise<void> = Promise.resolve();
  closed = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  send(message: Record<string, unknown>): void {
    if (this.closed) return;
    const bytes = _encodeNdjson(message);
    this.#writing = this.#writing.then(async () => {
      if (this.closed) return;
      try {
        let written = 0;
        while (written < bytes.length) {
          written += await this.conn.write(bytes.subarray(written));
        }
      } catch {
        this.closed = true;
      }
    });
  }
}

/** The fake graph; see the module doc. */
export class FakeRos2Graph implements AsyncDisposable {
  /** The Unix socket the stand-in connects to (`CAP_FAKE_ROS2_GRAPH`). */
  readonly path: string;
  /** Everything that happened, in order. */
  readonly events: FakeRosEvent[] = [];
  readonly #dir: string;
  readonly #listener: Deno.Listener;
  readonly #links = new Set<_Link>();
  readonly #serving = new Set<Promise<void>>();
  readonly #actions = new Map<string, _ActionServer>();
  readonly #services = new Map<string, _ServiceServer>();
  readonly #subscriptions = new Set<_Subscription>();
  readonly #waiters = new Set<_Waiter>();
  readonly #listeners = new Set<(event: FakeRosEvent) => void>();
  readonly #subscribed = new Set<() => void>();
  readonly #accepting: Promise<void>;
  readonly #executing = new Set<Promise<void>>();
  /** Goals still executing, also on servers already removed. */
  readonly #liveGoals = new Set<_ServerGoal>();

  private constructor(dir: string) {
    this.#dir = dir;
    this.path = `${dir}/graph.sock`;
    this.#listener = Deno.listen({ transport: "unix", path: this.path });
    this.#accepting = this.#accept();
  }

  /** Starts a graph on a fresh socket in a temporary directory. */
  static async start(): Promise<FakeRos2Graph> {
    return new FakeRos2Graph(
      await Deno.makeTempDir({ prefix: "cap-edge-fake-ros2-" }),
    );
  }

  /** The connected stand-ins (bridge processes that called `init()`). */
  get connections(): number {
    return this.#links.size;
  }

  /** Adds an action server; dispose the result to remove it. */
  addActionServer(
    name: string,
    type: string,
    options: FakeActionServerOptions,
  ): Disposable {
    if (this.#actions.has(name)) {
      throw new Error(`Cannot add the action server "${name}": it exists`);
    }
    const server: _ActionServer = { name, type, options, goals: new Map() };
    this.#actions.set(name, server);
    this.#announce();
    return {
      [Symbol.dispose]: () => {
        if (this.#actions.get(name) === server) this.#actions.delete(name);
      },
    };
  }

  /** Adds a service server; dispose the result to remove it. */
  addService(
    name: string,
    type: string,
    handler: FakeServiceHandler,
  ): Disposable {
    if (this.#services.has(name)) {
      throw new Error(`Cannot add the service "${name}": it exists`);
    }
    const server: _ServiceServer = { name, type, handler };
    this.#services.set(name, server);
    this.#announce();
    return {
      [Symbol.dispose]: () => {
        if (this.#services.get(name) === server) this.#services.delete(name);
      },
    };
  }

  /**
   * Publishes on `topic` to every subscription of that type whose QoS the
   * publisher's matches: a best-effort publisher reaches only best-effort
   * subscriptions (DDS does not match it with a reliable reader).
   */
  publish(
    topic: string,
    type: string,
    message: RosMessage,
    options: { reliability?: _Reliability } = {},
  ): number {
    const reliability = options.reliability ?? "reliable";
    let reached = 0;
    for (const sub of this.#subscriptions) {
      if (sub.topic !== topic || sub.type !== type) continue;
      if (reliability === "best_effort" && sub.reliability === "reliable") {
        continue;
      }
      sub.link.send({ op: "message", subId: sub.subId, message });
      reached++;
    }
    return reached;
  }

  /** Sends a cancel request for every goal of `actionName`, as another client can. */
  cancelAllGoals(actionName: string): void {
    const server = this.#actions.get(actionName);
    if (server === undefined) return;
    this.#record({ kind: "cancel_requested", name: actionName });
    for (const goal of server.goals.values()) {
      if (goal.terminal || goal.isCancelRequested) continue;
      if ((server.options.cancel?.(goal) ?? "accept") === "accept") {
        goal.requestCancel();
      }
    }
  }

  /** Resolves with the first event (already recorded or to come) that `matches`. */
  untilEvent(
    matches: (event: FakeRosEvent) => boolean,
    signal?: AbortSignal,
  ): Promise<FakeRosEvent> {
    const seen = this.events.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#listeners.delete(listener);
        reject(signal?.reason);
      };
      const listener = (event: FakeRosEvent) => {
        if (!matches(event)) return;
        this.#listeners.delete(listener);
        signal?.removeEventListener("abort", onAbort);
        resolve(event);
      };
      this.#listeners.add(listener);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Resolves once some stand-in subscribes to `topic`. */
  untilSubscribed(topic: string): Promise<void> {
    const present = () =>
      [...this.#subscriptions].some((sub) => sub.topic === topic);
    if (present()) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = () => {
        if (!present()) return;
        this.#subscribed.delete(listener);
        resolve();
      };
      this.#subscribed.add(listener);
    });
  }

  /**
   * Serves every ROS 2 skill of `config` from `backend` (e.g. a
   * SimBackend): default goal fields, results by the README's conventions; a
   * skill error becomes an ABORTED goal (or a response) with `error_code`
   * and `error_message`; a cancel request aborts the skill's signal and the
   * goal ends CANCELED. Dispose the result to remove the servers.
   */
  serveBackend(backend: SkillBackend, config: Ros2Config): Disposable {
    const servers: Disposable[] = [];
    for (const [skill, mapping] of Object.entries(config.skills)) {
      if (mapping === "local") continue;
      if (mapping.type === "action") {
        servers.push(this.addActionServer(mapping.name, mapping.interface, {
          async execute(goal) {
            const outcome = await backend.invoke(
              skill,
              _argsFromGoal(skill, goal.request),
              {
                signal: goal.cancelSignal,
                onFeedback: (f) => goal.publishFeedback(f as RosMessage),
              },
            );
            if (outcome.ok) {
              goal.succeed();
              return _resultMessage(skill, outcome.value);
            }
            if (outcome.error.code === "cancelled" && goal.isCancelRequested) {
              goal.canceled();
            } else goal.abort();
            return {
              error_code: outcome.error.code,
              error_message: outcome.error.message,
            };
          },
        }));
      } else {
        servers.push(
          this.addService(mapping.name, mapping.interface, async (request) => {
            const outcome = await backend.invoke(
              skill,
              _argsFromGoal(skill, request),
            );
            if (!outcome.ok) {
              return {
                error_code: outcome.error.code,
                error_message: outcome.error.message,
              };
            }
            const message = _resultMessage(skill, outcome.value);
            if (skill === "holding" && outcome.value !== null) {
              const world = await backend.world();
              const held = world?.objects.find((o) => o.id === outcome.value);
              if (held !== undefined) message.object = _objMessage(held);
            }
            return message;
          }),
        );
      }
    }
    return {
      [Symbol.dispose]: () => {
        for (const server of servers) server[Symbol.dispose]();
      },
    };
  }

  /** Closes every link and the socket; goals still executing get a cancel request. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const waiter of [...this.#waiters]) waiter.finish(false);
    this.#listener.close();
    for (const link of this.#links) {
      link.closed = true;
      try {
        link.conn.close();
      } catch {
        // its reader closed it already
      }
    }
    for (const goal of this.#liveGoals) {
      if (!goal.terminal && !goal.isCancelRequested) goal.requestCancel();
    }
    await this.#accepting;
    await Promise.allSettled([...this.#serving, ...this.#executing]);
    await Deno.remove(this.#dir, { recursive: true });
  }

  #record(event: FakeRosEvent): void {
    this.events.push(event);
    for (const listener of [...this.#listeners]) listener(event);
  }

  #announce(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.matches()) waiter.finish(true);
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const link = new _Link(conn);
        this.#links.add(link);
        const serving = this.#serve(link).finally(() => {
          this.#links.delete(link);
          this.#serving.delete(serving);
        });
        this.#serving.add(serving);
      }
    } catch {
      // the listener was closed
    }
  }

  async #serve(link: _Link): Promise<void> {
    try {
      for await (const m of _readNdjson(link.conn.readable)) {
        this.#handle(link, m as _Op);
      }
    } catch {
      // the stand-in went away (killed bridge) or the graph closed
    } finally {
      link.closed = true;
      for (const sub of [...this.#subscriptions]) {
        if (sub.link === link) this.#subscriptions.delete(sub);
      }
      try {
        link.conn.close();
      } catch {
        // already closed
      }
    }
  }

  #handle(link: _Link, m: _Op): void {
    const reply = (value: unknown) =>
      link.send({ op: "reply", ref: m.ref, value });
    switch (m.op as string) {
      case "wait":
        return this.#wait(m, reply);
      case "send_goal":
        return this.#sendGoal(link, m, reply);
      case "get_result": {
        const goal = this.#actionOf(m.name)?.goals.get(m.goalId);
        if (goal === undefined) return; // nobody answers
        if (goal.result !== undefined) {
          return reply({ status: goal.status, result: goal.result });
        }
        goal.resultWaiters.push(reply);
        return;
      }
      case "cancel_goal":
        return this.#cancel(m.name, m.goalId, reply);
      case "request":
        return this.#request(m, reply);
      case "subscribe":
        this.#subscriptions.add({
          link,
          subId: m.subId,
          topic: m.topic,
          type: m.type,
          reliability: m.reliability,
        });
        for (const listener of [...this.#subscribed]) listener();
        return;
      case "unsubscribe":
        for (const sub of [...this.#subscriptions]) {
          if (sub.link === link && sub.subId === m.subId) {
            this.#subscriptions.delete(sub);
          }
        }
        return;
    }
  }

  #actionOf(name: string): _ActionServer | undefined {
    return this.#actions.get(name);
  }

  #wait(
    m: _Op,
    reply: (value: unknown) => void,
  ): void {
    const name = m.name as string;
    const type = m.type as string;
    const matches = (): boolean => {
      if (m.kind === "action") return this.#actions.get(name)?.type === type;
      if (this.#services.get(name)?.type === type) return true;
      const cancel = /^(.*)\/_action\/cancel_goal$/.exec(name);
      return type === "action_msgs/srv/CancelGoal" && cancel !== null &&
        this.#actions.has(cancel[1]!);
    };
    if (matches()) return reply(true);
    const timeout = m.timeout as number;
    if (timeout === 0) return reply(false);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waiter: _Waiter = {
      matches,
      finish: (found) => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        reply(found);
      },
    };
    this.#waiters.add(waiter);
    if (timeout > 0) timer = setTimeout(() => waiter.finish(false), timeout);
  }

  #sendGoal(
    link: _Link,
    m: _Op,
    reply: (value: unknown) => void,
  ): void {
    const server = this.#actions.get(m.name);
    if (server === undefined || server.type !== m.type) return; // nobody answers
    const request = m.goal as RosMessage;
    const accepted = (server.options.goal?.(request) ?? "accept") === "accept";
    this.#record({
      kind: accepted ? "goal_accepted" : "goal_rejected",
      name: server.name,
      message: request,
    });
    reply(accepted);
    if (!accepted) return;
    const goal = new _ServerGoal(m.goalId, request, link);
    server.goals.set(goal.goalId, goal);
    this.#liveGoals.add(goal);
    const running = (async () => {
      goal.setStatus(GoalStatus.STATUS_EXECUTING);
      let result: RosMessage = {};
      try {
        result = await server.options.execute(goal);
      } catch (error) {
        console.error(`The fake action server "${server.name}" threw:`, error);
      }
      if (!goal.terminal) goal.abort();
      this.#record({
        kind: "goal_ended",
        name: server.name,
        status: goal.status,
      });
      goal.finish(result);
      this.#liveGoals.delete(goal);
    })();
    this.#executing.add(running);
    running.finally(() => this.#executing.delete(running));
  }

  #cancel(
    name: string,
    goalId: string,
    reply: (value: unknown) => void,
  ): void {
    const server = this.#actions.get(name);
    if (server === undefined) return;
    const goal = server.goals.get(goalId);
    this.#record({ kind: "cancel_requested", name });
    let response: { return_code: number; goals_canceling: unknown[] };
    if (goal === undefined) {
      response = {
        return_code: CancelReturnCode.ERROR_UNKNOWN_GOAL_ID,
        goals_canceling: [],
      };
    } else if (goal.terminal) {
      response = {
        return_code: CancelReturnCode.ERROR_GOAL_TERMINATED,
        goals_canceling: [],
      };
    } else {
      const decision = server.options.cancel?.(goal) ?? "accept";
      if (decision === "ignore") return;
      if (decision === "accept") {
        if (!goal.isCancelRequested) goal.requestCancel();
        response = {
          return_code: CancelReturnCode.ERROR_NONE,
          goals_canceling: [{ goal_id: goalId }],
        };
      } else {
        response = {
          return_code: CancelReturnCode.ERROR_REJECTED,
          goals_canceling: [],
        };
      }
    }
    reply(response);
  }

  #request(
    m: _Op,
    reply: (value: unknown) => void,
  ): void {
    const name = m.name as string;
    const request = m.request as RosMessage;
    const cancel = /^(.*)\/_action\/cancel_goal$/.exec(name);
    if (cancel !== null && m.type === "action_msgs/srv/CancelGoal") {
      const info = request.goal_info as {
        goal_id?: { uuid?: number[] };
      } | undefined;
      const bytes = info?.goal_id?.uuid ?? [];
      const goalId = bytes.map((b) => b.toString(16).padStart(2, "0")).join(
        "",
      );
      return this.#cancel(cancel[1]!, goalId, reply);
    }
    const server = this.#services.get(name);
    if (server === undefined || server.type !== m.type) return; // nobody answers
    this.#record({ kind: "service_called", name, message: request });
    const answering = (async () => {
      const response = await server.handler(request);
      if (response !== "ignore") reply(response);
    })();
    this.#executing.add(answering);
    answering.finally(() => this.#executing.delete(answering));
  }
}

/** Goal state on the server side. */
class _ServerGoal implements FakeServerGoalHandle {
  readonly goalId: string;
  readonly request: RosMessage;
  status: number = GoalStatus.STATUS_ACCEPTED;
  result: RosMessage | undefined;
  readonly resultWaiters: ((value: unknown) => void)[] = [];
  readonly #cancel = new AbortController();
  readonly #link: _Link;

  constructor(goalId: string, request: RosMessage, link: _Link) {
    this.goalId = goalId;
    this.request = request;
    this.#link = link;
  }

  get isCancelRequested(): boolean {
    return this.#cancel.signal.aborted;
  }

  get cancelSignal(): AbortSignal {
    return this.#cancel.signal;
  }

  get terminal(): boolean {
    return this.status >= GoalStatus.STATUS_SUCCEEDED;
  }

  requestCancel(): void {
    this.setStatus(GoalStatus.STATUS_CANCELING);
    this.#cancel.abort();
  }

  publishFeedback(feedback: RosMessage): void {
    if (this.terminal) return;
    this.#link.send({ op: "feedback", goalId: this.goalId, feedback });
  }

  succeed(): void {
    this.setStatus(GoalStatus.STATUS_SUCCEEDED);
  }

  abort(): void {
    this.setStatus(GoalStatus.STATUS_ABORTED);
  }

  canceled(): void {
    if (!this.isCancelRequested) {
      throw new Error(
        "Cannot set the goal CANCELED: no cancel request was accepted",
      );
    }
    this.setStatus(GoalStatus.STATUS_CANCELED);
  }

  setStatus(status: number): void {
    if (this.terminal) {
      throw new Error(
        `Cannot change the status of goal ${this.goalId}: it already ended with ${this.status}`,
      );
    }
    this.status = status;
    this.#link.send({ op: "status", goalId: this.goalId, status });
  }

  finish(result: RosMessage): void {
    this.result = result;
    for (const answer of this.resultWaiters.splice(0)) {
      answer({ status: this.status, result });
    }
  }
}

/** Skill arguments from a goal with the default fields. */
function _argsFromGoal(skill: string, goal: RosMessage): unknown[] {
  switch (skill) {
    case "detect":
      return typeof goal.query === "string" && goal.query !== ""
        ? [goal.query]
        : [];
    case "pick":
      return [goal.object_id];
    case "place":
      return typeof goal.target_id === "string" && goal.target_id !== ""
        ? [goal.target_id]
        : [{ x: goal.x, y: goal.y }];
    case "wait":
      return [goal.seconds];
    case "say":
      return [goal.text];
    default:
      return [];
  }
}

/** A result message from a skill's value (README conventions). */
function _resultMessage(skill: string, value: unknown): RosMessage {
  const base = { error_code: "", error_message: "" };
  switch (skill) {
    case "detect":
      return { ...base, objects: (value as Obj[]).map(_objMessage) };
    case "holding":
      return { ...base, object_id: (value as string | null) ?? "" };
    case "workspace": {
      const w = value as {
        xMin: number;
        xMax: number;
        yMin: number;
        yMax: number;
      };
      return {
        ...base,
        x_min: w.xMin,
        x_max: w.xMax,
        y_min: w.yMin,
        y_max: w.yMax,
      };
    }
    default:
      return base;
  }
}

/** An object message (README conventions: `on` is `""` for the table). */
function _objMessage(o: Obj): RosMessage {
  return {
    id: o.id,
    kind: o.kind,
    color: o.color,
    x: o.x,
    y: o.y,
    z: o.z,
    on: o.on ?? "",
  };
}
