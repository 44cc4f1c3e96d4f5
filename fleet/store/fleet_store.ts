import {
  type EvidenceRecord,
  FAILURE_LABELS,
} from "../../runtime/evidence/mod.ts";

/** Outcomes a run can end with (contract). */
export const OUTCOMES = ["succeeded", "failed", "rejected", "stopped"] as const;

/** Failure labels of the evidence record (contract): the runtime's own list. */
export const LABELS: typeof FAILURE_LABELS = FAILURE_LABELS;

/** One line of `GET /api/runs`: what a run was, without its record. */
export interface RunSummary {
  /** The run's id. */
  runId: string;
  /** The robot's id. */
  robotId: string;
  /** The signed program's id, or null for an unsigned run. */
  programId: string | null;
  /** The program's version, or null. */
  version: number | null;
  /** How the run ended. */
  outcome: string;
  /** The failure label, or null. */
  label: string | null;
  /** The failing line, when the record names one. */
  line: number | null;
  /** When the run started (ISO 8601). */
  startedAt: string;
  /** When the run ended (ISO 8601). */
  endedAt: string;
}

/** Filters of {@linkcode FleetStore.listRuns}; all optional. */
export interface RunQuery {
  /** Only runs of this robot. */
  robot?: string | undefined;
  /** Only runs with this label. */
  label?: string | undefined;
  /** Only runs of this program id. */
  program?: string | undefined;
  /** Only runs with this outcome. */
  outcome?: string | undefined;
  /** Runs started at or after this epoch millisecond. */
  sinceMs?: number | undefined;
  /** At most this many (1…1000). Default 100. */
  limit?: number | undefined;
  /** From {@linkcode RunPage.nextCursor}: continue after that run. */
  cursor?: string | undefined;
}

/** A page of runs, newest first. */
export interface RunPage {
  /** Runs on this page. */
  runs: RunSummary[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** Where the console reaches a robot's gRPC service, as its heartbeat announces it. */
export interface RobotGrpc {
  /** `host:port` to dial, or null when the robot announces none (it listens on every interface without `grpc.advertise`). */
  address: string | null;
  /** The service speaks TLS (the console needs `--robot-ca`). */
  tls: boolean;
  /** The service asks for a client certificate (the console needs `--robot-cert` and `--robot-key`). */
  clientAuth: boolean;
}

/** What the store knows about one robot. */
export interface RobotRow {
  /** The robot's id. */
  robotId: string;
  /** From `status` (retained) or the heartbeat: online, running, stopped, offline. */
  status: string | null;
  /** When anything was last heard from the robot (ISO 8601), or null. */
  lastSeen: string | null;
  /** The run in progress, or null. */
  currentRunId: string | null;
  /** Evidence waiting in the robot's outbox, from its latest heartbeat. */
  outboxDepth: number | null;
  /** Age of the oldest record in that outbox (ms), from its latest heartbeat. */
  outboxOldestAgeMs: number | null;
  /** The robot's newest stored run, or null. */
  lastRunId: string | null;
  /** Outcome of the robot's newest stored run, or null. */
  lastOutcome: string | null;
  /** Failure label of the robot's newest stored run, or null. */
  lastLabel: string | null;
  /** Runs stored for this robot. */
  runs: number;
  /** Its gRPC endpoint from the latest heartbeat that announced one, or null. */
  grpc: RobotGrpc | null;
}

/** A status or heartbeat heard from a robot. */
export type RobotUpdate =
  | { kind: "status"; robotId: string; status: string; atMs: number }
  | {
    kind: "telemetry";
    robotId: string;
    atMs: number;
    status: string | null;
    currentRunId: string | null;
    outboxDepth: number | null;
    outboxOldestAgeMs: number | null;
    /** The announced gRPC endpoint; absent when the heartbeat has none (the stored one is kept). */
    grpc?: RobotGrpc;
  };

/** Filters of {@linkcode FleetStore.stats}. */
export interface StatsQuery {
  /** Only runs of this robot. */
  robot?: string | undefined;
  /** Only runs started at or after this epoch millisecond. */
  sinceMs?: number | undefined;
}

/** Runs and failure labels per robot and per day (UTC). */
export interface FleetStats {
  /** Runs counted. */
  total: number;
  /** Runs by outcome. */
  byOutcome: Record<string, number>;
  /** Runs by failure label. */
  byLabel: Record<string, number>;
  /** Counts per robot, by robot id. */
  perRobot: {
    robotId: string;
    runs: number;
    byOutcome: Record<string, number>;
    byLabel: Record<string, number>;
  }[];
  /** Oldest day first; `day` is `YYYY-MM-DD`. */
  perDay: { day: string; runs: number; byLabel: Record<string, number> }[];
}

/** Options of the store's calls. */
export interface StoreCallOptions {
  /** Aborting cancels the call. */
  signal?: AbortSignal;
}

/**
 * The fleet's evidence store: every run's record, once by `runId`, and the
 * latest state of every robot. Implemented once over SQL for SQLite and
 * PostgreSQL (same schema, queries and migrations).
 */
export interface FleetStore extends AsyncDisposable {
  /** `"sqlite"` or `"postgres"`. */
  readonly kind: string;
  /** Stores the records not stored yet; resolves with the run ids newly stored. */
  putRuns(
    records: readonly EvidenceRecord[],
    options?: StoreCallOptions,
  ): Promise<string[]>;
  /** Folds a status or heartbeat into the robot's row. */
  putRobot(update: RobotUpdate, options?: StoreCallOptions): Promise<void>;
  /** Runs, newest first, filtered. */
  listRuns(query?: RunQuery, options?: StoreCallOptions): Promise<RunPage>;
  /** One run's record, or null. */
  getRun(
    runId: string,
    options?: StoreCallOptions,
  ): Promise<EvidenceRecord | null>;
  /** Every robot heard from, by id. */
  listRobots(options?: StoreCallOptions): Promise<RobotRow[]>;
  /** Counts per robot, outcome, label and day. */
  stats(query?: StatsQuery, options?: StoreCallOptions): Promise<FleetStats>;
  /** Closes the database; later calls throw. */
  close(): Promise<void>;
}

/** Thrown when a store is used after it was closed. */
export class StoreClosedError extends Error {
  /** Creates the error naming the store. */
  constructor(kind: string) {
    super(`Cannot use the ${kind} fleet store: it is closed`);
    this.name = "StoreClosedError";
  }
}
