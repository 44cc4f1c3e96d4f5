/**
 * The fleet side: evidence ingest over MQTT, the evidence store (SQLite or
 * PostgreSQL) and the web console with its JSON API.
 * @module
 */
export * from "./store/mod.ts";
export * from "./ingest/mod.ts";
export * from "./http/mod.ts";
export * from "./view/mod.ts";
export {
  type FleetConsole,
  type FleetConsoleOptions,
  parseListen,
  startFleetConsole,
} from "./start_fleet_console.ts";
export type { FleetRepairOptions } from "./fleet_repair_options.ts";
export {
  RobotCommander,
  type RobotCommanderOptions,
  RobotCommandError,
  type RobotTarget,
  type StartedRun,
} from "./robot_commander.ts";
export {
  RepairBusyError,
  type RepairJob,
  RepairJobs,
  type RepairJobsOptions,
  type RepairOutcome,
  type RunRepairer,
} from "./repair_jobs.ts";
export {
  fetchRunRecord,
  type FetchRunRecordOptions,
} from "./fetch_run_record.ts";
/** The evidence record and its parts (the runtime's contract types). */
export type {
  CallRecord,
  CheckRecord,
  EvidenceRecord,
  FailureLabel,
  Outcome,
  ProgramRecord,
  VerifierIssue,
  VerifierReport,
} from "../runtime/evidence/mod.ts";
/** The robot's gRPC client types the console's API names. */
export type { EdgeClientTls, WireProgram } from "../runtime/grpc/mod.ts";
