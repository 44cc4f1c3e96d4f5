/**
 * The robot's composition root: configuration and the edge node that wires
 * the service, gRPC and telemetry together. Each concern has its own entry
 * (`runtime/executor/mod.ts`, `runtime/grpc/mod.ts`, …); import only the one
 * you need.
 * @module
 */
export {
  ConfigError,
  DEFAULT_CONFIG,
  loadServiceConfig,
  parseServiceConfig,
  type Ros2BackendConfig,
  type ScheduleEntry,
  type ServiceConfig,
  type SimBackendConfig,
} from "./service_config.ts";
export {
  DEFAULT_SCENE,
  type EdgeNode,
  startEdgeNode,
  type StartEdgeNodeOptions,
} from "./start_edge_node.ts";
