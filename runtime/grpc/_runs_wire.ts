/**
 * Wire mapping of the run-history calls (`ListRuns`, `GetEvidence`,
 * `GetWorld`), shared by whatever serves them: request fields checked and
 * turned into the service's filter, answers turned into wire messages.
 * @module
 */
import type { EvidenceRecord } from "../evidence/mod.ts";
import type { RunFilter, RunPage } from "../service/mod.ts";
import type { WireRunFilter } from "./edge_client.ts";

/** A request field that cannot be used: the call fails with INVALID_ARGUMENT. */
export class InvalidRequestError extends Error {
  /** Creates the error; the message names the field. */
  constructor(message: string) {
    super(message);
    this.name = "InvalidRequestError";
  }
}

/** A `ListRuns` request as grpc-js decodes it: the client's filter, camelCase. */
export type WireListRunsRequest = WireRunFilter;

const _OUTCOMES = ["succeeded", "failed", "rejected", "stopped"];

/** The service filter of a `ListRuns` request; throws {@linkcode InvalidRequestError} naming the field. */
export function runFilterFromWire(request: WireListRunsRequest): RunFilter {
  const filter: RunFilter = {};
  if (request.label) filter.label = request.label;
  if (request.programId) filter.programId = request.programId;
  if (request.outcome) {
    if (!_OUTCOMES.includes(request.outcome)) {
      throw new InvalidRequestError(
        `Cannot list runs: outcome must be one of ${
          _OUTCOMES.join(", ")
        }, got "${request.outcome.slice(0, 40)}"`,
      );
    }
    filter.outcome = request.outcome;
  }
  if (request.since) {
    const ms = Date.parse(request.since);
    if (!Number.isFinite(ms)) {
      throw new InvalidRequestError(
        `Cannot list runs: since must be an ISO 8601 time, got "${
          request.since.slice(0, 40)
        }"`,
      );
    }
    filter.since = new Date(ms).toISOString();
  }
  const size = Number(request.pageSize ?? 0);
  if (size > 500) {
    throw new InvalidRequestError(
      `Cannot list runs: page_size is at most 500, got ${size}`,
    );
  }
  if (size > 0) filter.limit = size;
  if (request.pageToken) {
    if (
      !/^[1-9][0-9]{0,15}$/.test(request.pageToken) ||
      !Number.isSafeInteger(Number(request.pageToken))
    ) {
      throw new InvalidRequestError(
        `Cannot list runs: page_token is not one this robot gave, got "${
          request.pageToken.slice(0, 40)
        }"`,
      );
    }
    filter.before = Number(request.pageToken);
  }
  return filter;
}

/** A page of runs as a `ListRunsResponse`. */
export function runPageToWire(page: RunPage): Record<string, unknown> {
  return {
    runs: page.runs.map((r) => ({
      runId: r.runId,
      programId: r.programId ?? "",
      version: r.version ?? 0,
      outcome: r.outcome,
      label: r.label ?? "",
      startedAt: r.startedAt,
      endedAt: r.endedAt,
      skillCalls: r.skillCalls,
    })),
    nextPageToken: page.next === null ? "" : String(page.next),
  };
}

/** The run id of a `GetEvidence` request; throws {@linkcode InvalidRequestError} when empty. */
export function runIdFromWire(request: { runId?: string }): string {
  if (!request.runId) {
    throw new InvalidRequestError("Cannot get evidence: run_id is empty");
  }
  return request.runId;
}

/** A `GetEvidenceResponse`. */
export function evidenceToWire(
  record: EvidenceRecord,
): Record<string, unknown> {
  return { evidenceJson: JSON.stringify(record) };
}
