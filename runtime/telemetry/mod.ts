/**
 * Telemetry over MQTT 5: status, heartbeat, run events, evidence from the
 * durable outbox, and the inbound emergency stop.
 * @module
 */
export {
  type AppendOptions,
  Outbox,
  OutboxFullError,
  type OutboxOptions,
  type OutboxRecord,
  type OutboxStats,
  type OutboxSynchronous,
  type PeekOptions,
} from "./outbox.ts";
export {
  type GrpcEndpoint,
  MqttTelemetry,
  type MqttTelemetryOptions,
  type MqttTelemetryStats,
  type MqttTlsOptions,
  type MqttTopics,
  type RobotState,
  type StopInfo,
  type TelemetryLog,
  type TelemetryLogLevel,
  type TelemetrySnapshot,
  type WaitOptions,
} from "./mqtt_telemetry.ts";
export {
  allRobotsFilter,
  DEFAULT_TOPIC_PREFIX,
  type ParsedRobotTopic,
  parseRobotTopic,
  robotTopic,
  type RobotTopicKind,
  runEventsTopic,
} from "./topics.ts";
export {
  type MqttConfig,
  type MqttConfigOutbox,
  MqttConfigSchema,
  type MqttConfigTls,
} from "./mqtt_config.ts";
