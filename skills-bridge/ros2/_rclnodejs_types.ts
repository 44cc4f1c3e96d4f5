/**
 * The small part of rclnodejs's surface the ROS 2 backend uses, typed here so
 * that type checking never resolves the real `npm:rclnodejs` package (it is
 * imported lazily, only when the ros2 backend is selected).
 *
 * Matched against rclnodejs (RobotWebTools/rclnodejs), `types/index.d.ts`,
 * `types/node.d.ts`, `types/client.d.ts`, `types/action_client.d.ts`,
 * `lib/action/client.js` and `lib/action/client_goal_handle.js`:
 * - `init(context?, argv?): Promise<void>` (throws when the context is
 *   already initialised), `shutdown(context?): void` (destroys every node);
 * - `new Node(nodeName, namespace?)`, `node.spin(timeout?)` (what the
 *   deprecated `rclnodejs.spin(node)` calls, index.js), `node.createClient(
 *   typeClass, serviceName, options?)`, `node.createSubscription(typeClass,
 *   topic, callback)`, `node.destroy()`;
 * - `client.waitForService(timeout?): Promise<boolean>` (timeout in ms; `< 0`
 *   or undefined waits forever), `client.sendRequest(request, callback)`;
 * - `new ActionClient(node, typeClass, actionName, options?)`,
 *   `sendGoal(goal, feedbackCallback?, goalUuid?): Promise<ClientGoalHandle>`
 *   (resolves on the goal response, accepted or rejected; the feedback
 *   callback gets the `feedback` field of the feedback message),
 *   `waitForServer(timeout?): Promise<boolean>`, `destroy()`;
 * - `ClientGoalHandle`: `accepted` (deprecated getter for `isAccepted()`),
 *   `status` (an `action_msgs/msg/GoalStatus` constant), `getResult()`
 *   resolves with the result message itself and first sets `status` from the
 *   result response, `cancelGoal()` resolves with the
 *   `action_msgs/srv/CancelGoal` response.
 * @module
 */

/** `action_msgs/msg/GoalStatus` constants (the values rclnodejs exposes). */
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

/** A ROS message as rclnodejs hands it over: a plain object. */
export type RosMessage = Record<string, unknown>;

/** `action_msgs/srv/CancelGoal` response. */
export interface CancelGoalResponse {
  return_code: number;
  goals_canceling: unknown[];
}

/** rclnodejs `ClientGoalHandle`. */
export interface ClientGoalHandleLike {
  /** Whether the server accepted the goal. */
  readonly accepted: boolean;
  /** The latest `GoalStatus` known to the client. */
  readonly status: number;
  /** Requests the result; resolves with the result message once the goal is terminal. */
  getResult(): Promise<RosMessage>;
  /** Sends a cancel request for this goal. */
  cancelGoal(): Promise<CancelGoalResponse>;
}

/** rclnodejs `ActionClient`. */
export interface ActionClientLike {
  /** Waits up to `timeout` ms for the action server; true when it is there. */
  waitForServer(timeout?: number): Promise<boolean>;
  /** Sends a goal; resolves with its handle when the server answered. */
  sendGoal(
    goal: RosMessage,
    feedbackCallback?: (feedback: RosMessage) => void,
  ): Promise<ClientGoalHandleLike>;
  /** Destroys the client. */
  destroy(): void;
}

/** rclnodejs service `Client`. */
export interface ServiceClientLike {
  /** Waits up to `timeout` ms for the service server; true when it is there. */
  waitForService(timeout?: number): Promise<boolean>;
  /** Sends a request; `callback` gets the response. */
  sendRequest(
    request: RosMessage,
    callback: (response: RosMessage) => void,
  ): void;
}

/** rclnodejs `Subscription` (only its identity is used, to destroy it). */
export type SubscriptionLike = object;

/** rclnodejs `Node`. */
export interface NodeLike {
  /** Creates a service client. */
  createClient(typeClass: string, serviceName: string): ServiceClientLike;
  /** Subscribes to a topic. */
  createSubscription(
    typeClass: string,
    topic: string,
    callback: (message: RosMessage) => void,
  ): SubscriptionLike;
  /** Starts delivering the node's incoming messages (throws when already spinning). */
  spin(timeout?: number): void;
  /** Destroys a service client. */
  destroyClient(client: ServiceClientLike): void;
  /** Destroys a subscription. */
  destroySubscription(subscription: SubscriptionLike): void;
  /** Destroys the node and everything it created. */
  destroy(): void;
}

/** The rclnodejs module, as far as the ROS 2 backend uses it. */
export interface RclnodejsLike {
  /** Initialises the default context. */
  init(): Promise<void>;
  /** Shuts the default context down, destroying every node. */
  shutdown(): void;
  /** `new rclnodejs.Node(name, namespace?)`. */
  Node: new (nodeName: string, namespace?: string) => NodeLike;
  /** `new rclnodejs.ActionClient(node, typeClass, actionName)`. */
  ActionClient: new (
    node: NodeLike,
    typeClass: string,
    actionName: string,
  ) => ActionClientLike;
}
