/**
 * The robot side: executor (QuickJS sandbox in a zero-permission worker),
 * caps, evidence, and the edge service.
 * @module
 */
export * from "./evidence.ts";
export { type Caps, DEFAULT_CAPS, lowerCaps } from "./caps.ts";
export { labelForSkillCode } from "./failure_label.ts";
export {
  EstopLatchedError,
  Executor,
  ExecutorBusyError,
  ExecutorDisposedError,
  type ExecutorOptions,
  type RunEvent,
  type RunOptions,
  type RunRequest,
  sha256Hex,
} from "./executor.ts";
export { runLocal, type RunLocalOptions } from "./run_local.ts";
export {
  CacheClosedError,
  type CachedProgram,
  ProgramCache,
} from "./program_cache.ts";
export {
  type EdgeLog,
  EdgeService,
  type EdgeServiceOptions,
  type EdgeSink,
  ProgramNotFoundError,
  type Receipt,
  ServiceClosedError,
} from "./edge_service.ts";
export {
  type GrpcServerHandle,
  type GrpcServerOptions,
  type GrpcTls,
  startGrpcServer,
} from "./grpc_server.ts";
export {
  EdgeCallError,
  EdgeClient,
  type EdgeClientOptions,
  type EdgeClientTls,
  type WireProgram,
  type WireReceipt,
  type WireRunEvent,
} from "./edge_client.ts";
export {
  ConfigError,
  DEFAULT_CONFIG,
  loadServiceConfig,
  parseServiceConfig,
  ServiceConfig,
} from "./service_config.ts";
export {
  DEFAULT_SCENE,
  type EdgeNode,
  startEdgeNode,
  type StartEdgeNodeOptions,
} from "./start_edge_node.ts";
export {
  type AppendOptions,
  Outbox,
  OutboxFullError,
  type OutboxOptions,
  type OutboxRecord,
  type OutboxStats,
  type PeekOptions,
} from "./outbox.ts";
export {
  MqttTelemetry,
  type MqttTelemetryOptions,
  type MqttTelemetryStats,
  type MqttTlsOptions,
  type MqttTopics,
  type RobotState,
  type TelemetryLog,
  type TelemetryLogLevel,
  type TelemetrySnapshot,
  type WaitOptions,
} from "./mqtt_telemetry.ts";
export { type MqttConfig, MqttConfigSchema } from "./mqtt_config.ts";
export {
  FleetView,
  type FleetViewOptions,
  type RobotView,
} from "./fleet_view.ts";
