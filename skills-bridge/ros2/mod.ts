/**
 * The ROS 2 skills backend: skills as ROS 2 actions and services through
 * rclnodejs (imported lazily, only when the backend is created), and an
 * in-process stand-in of rclnodejs for tests.
 * @module
 */
export * from "./ros2_config.ts";
export * from "./ros2_unavailable_error.ts";
export * from "./ros2_backend.ts";
export * from "./fake_rclnodejs.ts";
export { CancelReturnCode, GoalStatus } from "./_rclnodejs_types.ts";
export type {
  ActionClientLike,
  CancelGoalResponse,
  ClientGoalHandleLike,
  NodeLike,
  RclnodejsLike,
  RosMessage,
  ServiceClientLike,
  SubscriptionLike,
} from "./_rclnodejs_types.ts";
