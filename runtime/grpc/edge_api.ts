import type { EvidenceRecord } from "../evidence/mod.ts";
import type { RunEvent } from "../executor/mod.ts";
import type { WorldState } from "../../skills-bridge/mod.ts";
import type {
  CachedProgram,
  Receipt,
  RunFilter,
  RunPage,
} from "../service/mod.ts";

/** The gRPC status names the edge API's failures map onto. */
export type EdgeStatus =
  | "invalid_argument"
  | "failed_precondition"
  | "not_found"
  | "permission_denied"
  | "unavailable"
  | "internal";

/** A failure of an edge API call that carries its gRPC status by name. */
export class EdgeApiError extends Error {
  /** The status the call fails with. */
  readonly status: EdgeStatus;
  /** Creates the error. */
  constructor(status: EdgeStatus, message: string) {
    super(message);
    this.name = "EdgeApiError";
    this.status = status;
  }
}

/** What the gRPC server serves: the edge service, in-process or over the gateway's channel. */
export interface EdgeApi {
  /** Checks and stores an envelope; with `run`, runs it and returns its evidence. */
  deliver(
    envelope: Uint8Array,
    options: {
      run: boolean;
      command?: Uint8Array;
      onEvent?: (event: RunEvent) => void;
    },
  ): Promise<{ receipt: Receipt; evidence: EvidenceRecord | null }>;
  /** Checks an envelope without storing it. */
  validate(envelope: Uint8Array): Promise<Receipt>;
  /** Runs a cached program. */
  run(
    programId: string,
    options: {
      version?: number;
      command?: Uint8Array;
      onEvent?: (event: RunEvent) => void;
    },
  ): Promise<EvidenceRecord>;
  /** Emergency stop; needs nothing. */
  stop(reason: string): Promise<{ runId: string | null }>;
  /** Releases the stop latch; returns whether it was latched. */
  resume(options: { command?: Uint8Array }): Promise<boolean> | boolean;
  /** The newest version of every cached program. */
  list(): Promise<CachedProgram[]> | CachedProgram[];
  /** The robot's id. */
  readonly robotId: string;
  /** Runs in the local evidence store, newest first. */
  listRuns(filter: RunFilter): Promise<RunPage> | RunPage;
  /** One run's evidence record, `undefined` when the store does not hold it. */
  getEvidence(
    runId: string,
  ): Promise<EvidenceRecord | undefined> | EvidenceRecord | undefined;
  /** The backend's world estimate and the robot's state. */
  getWorld(): Promise<
    { world: WorldState | null; state: string; at: string }
  >;
}

/** The status each of the executor's and the service's errors maps onto, by name. */
const STATUS_BY_ERROR_NAME: Readonly<Record<string, EdgeStatus>> = {
  ExecutorBusyError: "failed_precondition",
  EstopLatchedError: "failed_precondition",
  ProgramNotFoundError: "not_found",
  ServiceClosedError: "unavailable",
  CommandRejectedError: "permission_denied",
  BackendUnavailableError: "unavailable",
};

/**
 * The status a failure of the edge service maps onto. The executor's and
 * the service's errors are known by their names, not their classes: the
 * gRPC gateway's process must not load the executor and the service (their
 * SQLite, sandbox and verifier code) only to tell their errors apart.
 */
export function statusOf(error: unknown): EdgeStatus {
  if (error instanceof EdgeApiError) return error.status;
  if (
    error instanceof Error && Object.hasOwn(STATUS_BY_ERROR_NAME, error.name)
  ) {
    return STATUS_BY_ERROR_NAME[error.name]!;
  }
  return "internal";
}
