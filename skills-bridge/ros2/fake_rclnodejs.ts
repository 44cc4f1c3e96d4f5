/**
 * An in-process stand-in for rclnodejs and a ROS 2 graph, for testing the
 * ros2 backend on machines without ROS 2. Nothing here has been checked
 * against a real ROS 2 installation; it follows rclnodejs's sources and types
 * (RobotWebTools/rclnodejs `lib/action/client.js`,
 * `lib/action/client_goal_handle.js`, `lib/action/deferred.js`,
 * `types/*.d.ts`) and the ROS 2 action protocol (goal, cancel and result
 * services, feedback and status topics):
 *
 * - `init()` twice without `shutdown()` throws, as rclnodejs does; creating a
 *   node before `init()` throws.
 * - Messages reach a node only while it spins (`node.spin()`), asynchronously.
 * - `ActionClient.sendGoal(goal, feedbackCallback)` resolves with a goal
 *   handle when the server answered, accepted or not; the handle's `status`
 *   starts at ACCEPTED (or UNKNOWN when rejected), follows the status topic,
 *   never leaves a terminal status; `getResult()` resolves with the result
 *   message once the goal is terminal and sets `status` from the result
 *   response first; `cancelGoal()` resolves with the CancelGoal response
 *   (`return_code`, `goals_canceling`). Feedback callbacks get the
 *   `feedback` field.
 * - `waitForServer(timeout)` / `waitForService(timeout)`: true at once when a
 *   server with that name and type exists, else when one appears, else false
 *   after `timeout` ms (negative or undefined: forever). A server of another
 *   type does not match (DDS would not match the endpoints either). Unlike the
 *   real client, destroying the client ends a pending wait with `false`.
 * - Servers belong to the fake graph, not to a node (server-side API modelled
 *   on rclnodejs's `ActionServer`: goal callback → ACCEPT/REJECT, cancel
 *   callback → ACCEPT/REJECT, execute callback gets a goal handle with
 *   `publishFeedback`, `succeed`, `abort`, `canceled`, `isCancelRequested`
 *   and returns the result; an execute that leaves the goal non-terminal
 *   aborts it, as rclpy does).
 * @module
 */
import type { Obj } from "../skill_api.ts";
import type { SkillBackend } from "../skill_backend.ts";
import type { Ros2Config } from "./ros2_config.ts";
import {
  type ActionClientLike,
  type CancelGoalResponse,
  CancelReturnCode,
  type ClientGoalHandleLike,
  GoalStatus,
  type NodeLike,
  type RclnodejsLike,
  type RosMessage,
  type ServiceClientLike,
  type SubscriptionLike,
} from "./_rclnodejs_types.ts";

/** The server side of one goal, handed to an action server's `execute`. */
export interface FakeServerGoalHandle {
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

/** A service server in the fake graph: request → response, or `"ignore"` (never answered). */
export type FakeServiceHandler = (
  request: RosMessage,
) => Promise<RosMessage | "ignore"> | RosMessage | "ignore";

/** One thing that happened in the fake graph, for tests to check. */
export interface FakeRosEvent {
  /** What happened. */
  kind:
    | "goal_accepted"
    | "goal_rejected"
    | "cancel_requested"
    | "goal_ended"
    | "service_called";
  /** The action or service name. */
  name: string;
  /** The goal or request message. */
  message?: RosMessage;
  /** The terminal `GoalStatus` (for `goal_ended`). */
  status?: number;
}

interface _Server {
  readonly name: string;
  readonly type: string;
}

interface _ActionServer extends _Server {
  readonly options: FakeActionServerOptions;
  readonly goals: Map<string, _ServerGoal>;
}

interface _ServiceServer extends _Server {
  readonly handler: FakeServiceHandler;
}

interface _Waiter {
  readonly matches: (server: _Server) => boolean;
  readonly resolve: (found: boolean) => void;
}

interface _Subscription {
  readonly node: _FakeNode;
  readonly type: string;
  readonly topic: string;
  readonly callback: (message: RosMessage) => void;
}

/** A deep copy, as serialising a message over the middleware makes one. */
function _wire<T>(message: T): T {
  return structuredClone(message);
}

/**
 * The stand-in: an object with rclnodejs's module surface (`init`,
 * `shutdown`, `spin`, `Node`, `ActionClient`) plus the server side of a
 * ROS 2 graph (`addActionServer`, `addService`, `publish`, `serveBackend`).
 */
export class FakeRclnodejs implements RclnodejsLike {
  /** `new fake.Node(name, namespace?)`, as `new rclnodejs.Node(…)`. */
  readonly Node: new (nodeName: string, namespace?: string) => NodeLike;
  /** `new fake.ActionClient(node, type, name)`, as `new rclnodejs.ActionClient(…)`. */
  readonly ActionClient: new (
    node: NodeLike,
    typeClass: string,
    actionName: string,
  ) => ActionClientLike;
  /** Everything that happened, in order. */
  readonly events: FakeRosEvent[] = [];
  /** How often `init()` and `shutdown()` were called. */
  readonly calls = { init: 0, shutdown: 0, spin: 0 };
  /** When set, `init()` rejects with it (a ROS 2 that cannot start). */
  initError: Error | undefined;

  #initialized = false;
  readonly _nodes = new Set<_FakeNode>();
  readonly _actionServers = new Map<string, _ActionServer>();
  readonly _services = new Map<string, _ServiceServer>();
  readonly _waiters = new Set<_Waiter>();
  readonly _subscriptions = new Set<_Subscription>();

  /** Creates an empty graph. */
  constructor() {
    // deno-lint-ignore no-this-alias
    const graph = this;
    this.Node = class extends _FakeNode {
      constructor(nodeName: string, namespace = "") {
        super(graph, nodeName, namespace);
      }
    };
    this.ActionClient = class extends _FakeActionClient {
      constructor(node: NodeLike, typeClass: string, actionName: string) {
        super(graph, node, typeClass, actionName);
      }
    };
  }

  /** True between `init()` and `shutdown()`. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /** The nodes alive in the graph. */
  get nodes(): number {
    return this._nodes.size;
  }

  /** `rclnodejs.init()`. */
  init(): Promise<void> {
    this.calls.init++;
    if (this.initError !== undefined) return Promise.reject(this.initError);
    if (this.#initialized) {
      return Promise.reject(
        new Error("The context has already been initialized."),
      );
    }
    this.#initialized = true;
    return Promise.resolve();
  }

  /** `rclnodejs.shutdown()`: destroys every node. */
  shutdown(): void {
    this.calls.shutdown++;
    for (const node of [...this._nodes]) node.destroy();
    this.#initialized = false;
  }

  /** `rclnodejs.spin(node)` (deprecated in rclnodejs): `node.spin()`. */
  spin(node: NodeLike, timeout?: number): void {
    node.spin(timeout);
  }

  /** Adds an action server; dispose the result to remove it. */
  addActionServer(
    name: string,
    type: string,
    options: FakeActionServerOptions,
  ): Disposable {
    if (this._actionServers.has(name)) {
      throw new Error(`Cannot add the action server "${name}": it exists`);
    }
    const server: _ActionServer = { name, type, options, goals: new Map() };
    this._actionServers.set(name, server);
    this.#announce(server);
    return {
      [Symbol.dispose]: () => {
        if (this._actionServers.get(name) === server) {
          this._actionServers.delete(name);
        }
      },
    };
  }

  /** Adds a service server; dispose the result to remove it. */
  addService(
    name: string,
    type: string,
    handler: FakeServiceHandler,
  ): Disposable {
    if (this._services.has(name)) {
      throw new Error(`Cannot add the service "${name}": it exists`);
    }
    const server: _ServiceServer = { name, type, handler };
    this._services.set(name, server);
    this.#announce(server);
    return {
      [Symbol.dispose]: () => {
        if (this._services.get(name) === server) this._services.delete(name);
      },
    };
  }

  /**
   * Sends a cancel request for every goal of `actionName` from outside the
   * backend (as `ros2 action` tools or another client can); each goal's
   * server decides as for any cancel request.
   */
  cancelAllGoals(actionName: string): void {
    const server = this._actionServers.get(actionName);
    if (server === undefined) return;
    this.events.push({ kind: "cancel_requested", name: actionName });
    for (const goal of server.goals.values()) {
      if (goal.terminal || goal.isCancelRequested) continue;
      if ((server.options.cancel?.(goal) ?? "accept") === "accept") {
        goal.requestCancel();
      }
    }
  }

  /** Publishes a message on a topic to every subscription of that topic and type. */
  publish(topic: string, type: string, message: RosMessage): void {
    for (const sub of this._subscriptions) {
      if (sub.topic === topic && sub.type === type) {
        const copy = _wire(message);
        sub.node._deliver(() => sub.callback(copy));
      }
    }
  }

  /**
   * Serves every ROS 2 skill of `config` from `backend` (e.g. a SimBackend):
   * action goals and service requests use the default goal fields
   * (`ROS2_DEFAULT_GOALS`), results the conventions of this folder's README. A
   * skill error becomes an ABORTED goal (or a response) with `error_code` and
   * `error_message`; a cancel request aborts the skill's signal and the goal
   * ends CANCELED. Dispose the result to remove the servers.
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
                onFeedback: (feedback) =>
                  goal.publishFeedback(feedback as RosMessage),
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
            if (outcome.ok) {
              const message = _resultMessage(skill, outcome.value);
              if (skill === "holding" && outcome.value !== null) {
                const world = await backend.world();
                const held = world?.objects.find((o) => o.id === outcome.value);
                if (held !== undefined) message.object = _objMessage(held);
              }
              return message;
            }
            return {
              error_code: outcome.error.code,
              error_message: outcome.error.message,
            };
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

  /** Waits for a server matching `matches`; see the module doc. */
  _waitFor(
    matches: (server: _Server) => boolean,
    timeout: number | undefined,
    client: { onDestroy: Set<() => void> },
  ): Promise<boolean> {
    const present = [
      ...this._actionServers.values(),
      ...this._services.values(),
    ]
      .some(matches);
    if (present) return Promise.resolve(true);
    if (timeout === 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (found: boolean) => {
        clearTimeout(timer);
        this._waiters.delete(waiter);
        client.onDestroy.delete(onDestroy);
        resolve(found);
      };
      const waiter: _Waiter = { matches, resolve: finish };
      const onDestroy = () => finish(false);
      this._waiters.add(waiter);
      client.onDestroy.add(onDestroy);
      if (timeout !== undefined && timeout >= 0) {
        timer = setTimeout(() => finish(false), timeout);
      }
    });
  }

  #announce(server: _Server): void {
    for (const waiter of [...this._waiters]) {
      if (waiter.matches(server)) waiter.resolve(true);
    }
  }
}

/** Goal state on the server side. */
class _ServerGoal implements FakeServerGoalHandle {
  readonly request: RosMessage;
  status: number = GoalStatus.STATUS_ACCEPTED;
  result: RosMessage | undefined;
  readonly #cancel = new AbortController();
  readonly #client: _FakeActionClient;
  readonly #id: string;
  readonly resultWaiters: ((response: RosMessage) => void)[] = [];

  constructor(id: string, request: RosMessage, client: _FakeActionClient) {
    this.#id = id;
    this.request = request;
    this.#client = client;
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
    this.#client._feedback(this.#id, _wire(feedback));
  }

  succeed(): void {
    this.#end(GoalStatus.STATUS_SUCCEEDED);
  }

  abort(): void {
    this.#end(GoalStatus.STATUS_ABORTED);
  }

  canceled(): void {
    if (!this.isCancelRequested) {
      throw new Error(
        "Cannot set the goal CANCELED: no cancel request was accepted",
      );
    }
    this.#end(GoalStatus.STATUS_CANCELED);
  }

  setStatus(status: number): void {
    if (this.terminal) {
      throw new Error(
        `Cannot change the status of goal ${this.#id}: it already ended with ${this.status}`,
      );
    }
    this.status = status;
    this.#client._status(this.#id, status);
  }

  #end(status: number): void {
    this.setStatus(status);
  }

  /** Answers every pending result request. */
  finish(result: RosMessage): void {
    this.result = result;
    for (const answer of this.resultWaiters.splice(0)) {
      answer({ status: this.status, result: _wire(result) });
    }
  }
}

class _FakeNode implements NodeLike {
  readonly #graph: FakeRclnodejs;
  readonly nodeName: string;
  readonly namespace: string;
  #spinning = false;
  #destroyed = false;
  readonly #queue: (() => void)[] = [];
  readonly #clients = new Set<_FakeServiceClient>();
  readonly #actionClients = new Set<_FakeActionClient>();

  constructor(graph: FakeRclnodejs, nodeName: string, namespace: string) {
    if (!graph.initialized) {
      throw new Error(
        `Cannot create the node "${nodeName}": rclnodejs.init() was not called`,
      );
    }
    this.#graph = graph;
    this.nodeName = nodeName;
    this.namespace = namespace;
    graph._nodes.add(this);
  }

  get spinning(): boolean {
    return this.#spinning;
  }

  spin(_timeout?: number): void {
    this.#graph.calls.spin++;
    if (this.#destroyed) throw new Error("Cannot spin a destroyed node");
    if (this.#spinning) throw new Error("The node is already spinning");
    this.#spinning = true;
    for (const task of this.#queue.splice(0)) queueMicrotask(task);
  }

  /** Hands an incoming message to the node: run now-ish when spinning, queued otherwise. */
  _deliver(task: () => void): void {
    if (this.#destroyed) return;
    const guarded = () => {
      if (!this.#destroyed) task();
    };
    if (this.#spinning) queueMicrotask(guarded);
    else this.#queue.push(guarded);
  }

  _addActionClient(client: _FakeActionClient): void {
    this.#assertAlive();
    this.#actionClients.add(client);
  }

  _removeActionClient(client: _FakeActionClient): void {
    this.#actionClients.delete(client);
  }

  createClient(typeClass: string, serviceName: string): ServiceClientLike {
    this.#assertAlive();
    const client = new _FakeServiceClient(
      this.#graph,
      this,
      typeClass,
      serviceName,
    );
    this.#clients.add(client);
    return client;
  }

  createSubscription(
    typeClass: string,
    topic: string,
    callback: (message: RosMessage) => void,
  ): SubscriptionLike {
    this.#assertAlive();
    const sub: _Subscription = { node: this, type: typeClass, topic, callback };
    this.#graph._subscriptions.add(sub);
    return sub;
  }

  destroyClient(client: ServiceClientLike): void {
    if (client instanceof _FakeServiceClient) {
      client._destroy();
      this.#clients.delete(client);
    }
  }

  destroySubscription(subscription: SubscriptionLike): void {
    this.#graph._subscriptions.delete(subscription as _Subscription);
  }

  destroy(): void {
    if (this.#destroyed) return;
    for (const client of this.#clients) client._destroy();
    for (const client of [...this.#actionClients]) client.destroy();
    for (const sub of [...this.#graph._subscriptions]) {
      if (sub.node === this) this.#graph._subscriptions.delete(sub);
    }
    this.#destroyed = true;
    this.#spinning = false;
    this.#queue.length = 0;
    this.#graph._nodes.delete(this);
  }

  #assertAlive(): void {
    if (this.#destroyed) throw new Error("Cannot use a destroyed node");
  }
}

class _FakeServiceClient implements ServiceClientLike {
  readonly #graph: FakeRclnodejs;
  readonly #node: _FakeNode;
  readonly #type: string;
  readonly serviceName: string;
  readonly onDestroy = new Set<() => void>();

  constructor(
    graph: FakeRclnodejs,
    node: _FakeNode,
    type: string,
    name: string,
  ) {
    this.#graph = graph;
    this.#node = node;
    this.#type = type;
    this.serviceName = name;
  }

  waitForService(timeout?: number): Promise<boolean> {
    return this.#graph._waitFor(
      (server) =>
        server.name === this.serviceName && server.type === this.#type &&
        this.#graph._services.get(server.name) === server,
      timeout,
      this,
    );
  }

  sendRequest(
    request: RosMessage,
    callback: (response: RosMessage) => void,
  ): void {
    const server = this.#graph._services.get(this.serviceName);
    if (server === undefined || server.type !== this.#type) return; // nobody answers
    const copy = _wire(request);
    this.#graph.events.push({
      kind: "service_called",
      name: this.serviceName,
      message: copy,
    });
    queueMicrotask(async () => {
      const response = await server.handler(copy);
      if (response === "ignore") return;
      const wired = _wire(response);
      this.#node._deliver(() => callback(wired));
    });
  }

  _destroy(): void {
    for (const end of [...this.onDestroy]) end();
  }
}

class _FakeActionClient implements ActionClientLike {
  readonly #graph: FakeRclnodejs;
  readonly #node: _FakeNode;
  readonly #type: string;
  readonly actionName: string;
  readonly onDestroy = new Set<() => void>();
  readonly #handles = new Map<string, _FakeGoalHandle>();
  readonly #feedback = new Map<string, (feedback: RosMessage) => void>();
  #nextId = 0;
  #destroyed = false;

  constructor(
    graph: FakeRclnodejs,
    node: NodeLike,
    type: string,
    name: string,
  ) {
    if (!(node instanceof _FakeNode)) {
      throw new TypeError(
        "Cannot create an action client: not a node of this rclnodejs",
      );
    }
    this.#graph = graph;
    this.#node = node;
    this.#type = type;
    this.actionName = name;
    node._addActionClient(this);
  }

  waitForServer(timeout?: number): Promise<boolean> {
    return this.#graph._waitFor(
      (server) =>
        server.name === this.actionName && server.type === this.#type &&
        this.#graph._actionServers.get(server.name) === server,
      timeout,
      this,
    );
  }

  sendGoal(
    goal: RosMessage,
    feedbackCallback?: (feedback: RosMessage) => void,
  ): Promise<ClientGoalHandleLike> {
    const id = `${this.actionName}#${++this.#nextId}`;
    if (feedbackCallback !== undefined) {
      this.#feedback.set(id, feedbackCallback);
    }
    const server = this.#server();
    const request = _wire(goal);
    return new Promise((resolve) => {
      if (server === undefined) return; // a goal request nobody answers
      queueMicrotask(() => {
        const accepted = (server.options.goal?.(request) ?? "accept") ===
          "accept";
        this.#graph.events.push({
          kind: accepted ? "goal_accepted" : "goal_rejected",
          name: this.actionName,
          message: request,
        });
        const handle = new _FakeGoalHandle(this, id, accepted);
        // As rclnodejs's processGoalResponse: the client tracks the handle
        // (for status updates) only once it has the goal response.
        this.#node._deliver(() => {
          if (accepted) this.#handles.set(id, handle);
          resolve(handle);
        });
        if (accepted) {
          const serverGoal = new _ServerGoal(id, request, this);
          server.goals.set(id, serverGoal);
          this.#execute(server, serverGoal);
        } else this.#feedback.delete(id);
      });
    });
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const end of [...this.onDestroy]) end();
    this.#handles.clear();
    this.#feedback.clear();
    this.#node._removeActionClient(this);
  }

  /** The result service, client side. */
  _getResult(id: string, handle: _FakeGoalHandle): Promise<RosMessage> {
    const goal = this.#server()?.goals.get(id);
    return new Promise((resolve) => {
      if (goal === undefined) return; // nobody answers
      const answer = (response: RosMessage) =>
        this.#node._deliver(() => {
          handle._setStatus(response.status as number);
          resolve(response.result as RosMessage);
        });
      if (goal.terminal && goal.result !== undefined) {
        queueMicrotask(() =>
          answer({ status: goal.status, result: _wire(goal.result) })
        );
      } else goal.resultWaiters.push(answer);
    });
  }

  /** The cancel service, client side. */
  _cancelGoal(id: string): Promise<CancelGoalResponse> {
    const server = this.#server();
    return new Promise((resolve) => {
      if (server === undefined) return;
      queueMicrotask(() => {
        const goal = server.goals.get(id);
        this.#graph.events.push({
          kind: "cancel_requested",
          name: server.name,
        });
        let response: CancelGoalResponse;
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
              goals_canceling: [{ goal_id: id }],
            };
          } else {
            response = {
              return_code: CancelReturnCode.ERROR_REJECTED,
              goals_canceling: [],
            };
          }
        }
        this.#node._deliver(() => resolve(response));
      });
    });
  }

  /** Feedback topic, client side. */
  _feedback(id: string, feedback: RosMessage): void {
    const callback = this.#feedback.get(id);
    if (callback !== undefined) this.#node._deliver(() => callback(feedback));
  }

  /** Status topic, client side. */
  _status(id: string, status: number): void {
    this.#node._deliver(() => {
      this.#handles.get(id)?._setStatus(status);
      if (status >= GoalStatus.STATUS_SUCCEEDED) {
        this.#handles.delete(id);
        this.#feedback.delete(id);
      }
    });
  }

  #server(): _ActionServer | undefined {
    const server = this.#graph._actionServers.get(this.actionName);
    return server?.type === this.#type ? server : undefined;
  }

  #execute(server: _ActionServer, goal: _ServerGoal): void {
    queueMicrotask(async () => {
      goal.setStatus(GoalStatus.STATUS_EXECUTING);
      let result: RosMessage = {};
      try {
        result = await server.options.execute(goal);
      } catch (error) {
        console.error(`The fake action server "${server.name}" threw:`, error);
      }
      if (!goal.terminal) goal.abort();
      this.#graph.events.push({
        kind: "goal_ended",
        name: server.name,
        status: goal.status,
      });
      goal.finish(result);
    });
  }
}

class _FakeGoalHandle implements ClientGoalHandleLike {
  readonly #client: _FakeActionClient;
  readonly #id: string;
  readonly #accepted: boolean;
  #status: number;

  constructor(client: _FakeActionClient, id: string, accepted: boolean) {
    this.#client = client;
    this.#id = id;
    this.#accepted = accepted;
    this.#status = accepted
      ? GoalStatus.STATUS_ACCEPTED
      : GoalStatus.STATUS_UNKNOWN;
  }

  get goalId(): string {
    return this.#id;
  }

  get accepted(): boolean {
    return this.#accepted;
  }

  get status(): number {
    return this.#status;
  }

  /** As rclnodejs: only moves forward, never out of a terminal status. */
  _setStatus(status: number): void {
    if (this.#status < GoalStatus.STATUS_SUCCEEDED && status > this.#status) {
      this.#status = status;
    }
  }

  getResult(): Promise<RosMessage> {
    return this.#client._getResult(this.#id, this);
  }

  cancelGoal(): Promise<CancelGoalResponse> {
    return this.#client._cancelGoal(this.#id);
  }
}

/** Skill arguments from a goal with the default fields (`ROS2_DEFAULT_GOALS`). */
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
      return {
        ...base,
        objects: (value as Obj[]).map(_objMessage),
      };
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
