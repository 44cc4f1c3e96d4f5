/**
 * The ROS 2 skills backend: the Deno side (`Ros2Backend`), which drives the
 * ROS 2 bridge — a Node.js process holding rclnodejs (`bridge/`, its own
 * npm package) — over a local channel, and its configuration.
 * @module
 */
export * from "./ros2_config.ts";
export * from "./ros2_unavailable_error.ts";
export {
  ROS2_BRIDGE_SCRIPT,
  Ros2Backend,
  type Ros2BackendOptions,
  type Ros2Fault,
} from "./ros2_backend.ts";
