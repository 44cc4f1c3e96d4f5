/**
 * Evidence ingest: every robot's status, heartbeats and evidence over an
 * MQTT 5 shared subscription into the fleet store.
 * @module
 */
export {
  type FleetEvent,
  FleetIngest,
  type FleetIngestOptions,
  type FleetIngestStats,
  type IngestLog,
} from "./fleet_ingest.ts";
export { parseRobotMessage, type RobotMessage } from "./parse_robot_message.ts";
