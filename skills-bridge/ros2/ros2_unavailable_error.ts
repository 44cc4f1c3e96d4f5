/**
 * ROS 2 cannot be used in this process: it is not sourced (no
 * `AMENT_PREFIX_PATH`), rclnodejs cannot be imported, or `rclnodejs.init()`
 * failed. The service prints the message and exits non-zero.
 */
export class Ros2UnavailableError extends Error {
  /** Creates the error; keep the underlying failure as `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Ros2UnavailableError";
  }
}
