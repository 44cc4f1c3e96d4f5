import { cutText } from "./cut_text.ts";
import type { EvidenceRecord, Truncation } from "./evidence_record.ts";

/** Default size bound of a serialised record: `evidence.maxBytes` (contract). */
export const DEFAULT_EVIDENCE_MAX_BYTES = 262_144;

/** Options of {@linkcode boundRecord}. */
export interface BoundRecordOptions {
  /** Calls kept at each end of `calls` when its middle is dropped. Default 50. */
  keepCalls?: number;
}

const _encoder = new TextEncoder();
/** String lengths tried in turn, longest first, until the record fits. */
const _STRING_LIMITS = [4096, 1024, 256, 64, 16];
/** The program's source keeps this many times the limit of other strings. */
const _SOURCE_FACTOR = 16;

/**
 * The record, cut so that `JSON.stringify` of it is at most `maxBytes` bytes
 * of UTF-8 (contract): over the bound, the middle of `calls` is dropped
 * (the first and last `keepCalls` kept), long strings are cut (the source,
 * `say()` texts and other arguments, results, messages), verifier issues are
 * dropped from the end if still needed, and `truncated` says what was left
 * out. A record within the bound is returned as is (the same object).
 *
 * Cheap: the full record is serialised once; each further attempt
 * serialises only the reduced record (at most `2 * keepCalls` calls), and
 * there are at most a handful of attempts.
 *
 * A bound too small even for the record's skeleton (ids, outcome, label;
 * a few hundred bytes) yields the skeleton, which the caller must check.
 *
 * @example
 * ```ts
 * import { boundRecord } from "./bound_record.ts";
 * import type { EvidenceRecord } from "./evidence_record.ts";
 * const record = {
 *   runId: "r1", robotId: "a", startedAt: "", endedAt: "",
 *   program: { sha256: "", source: "x".repeat(100_000), instruction: null, programId: null, version: null, keyId: null },
 *   verifier: { ok: true, issues: [] }, worldBefore: null, worldAfter: null,
 *   calls: [], checks: [], outcome: "succeeded", failure: null,
 *   resources: { wallMs: 0, skillCalls: 0, memoryLimitBytes: 0, timeoutMs: 0 },
 * } satisfies EvidenceRecord;
 * const bounded = boundRecord(record, 16_384);
 * if (JSON.stringify(bounded).length > 16_384) throw new Error("too big");
 * if (bounded.truncated === undefined) throw new Error("not marked");
 * ```
 */
export function boundRecord(
  record: EvidenceRecord,
  maxBytes: number = DEFAULT_EVIDENCE_MAX_BYTES,
  options: BoundRecordOptions = {},
): EvidenceRecord {
  if (!(Number.isInteger(maxBytes) && maxBytes > 0)) {
    throw new RangeError(
      `Cannot bound evidence record "${record.runId}": maxBytes must be a positive integer, got ${maxBytes}`,
    );
  }
  const keep = options.keepCalls ?? 50;
  if (!(Number.isInteger(keep) && keep >= 0)) {
    throw new RangeError(
      `Cannot bound evidence record "${record.runId}": keepCalls must be a non-negative integer, got ${keep}`,
    );
  }
  const original = _bytes(JSON.stringify(record));
  if (original <= maxBytes) return record;
  const prior = record.truncated;
  const attempts: Array<{ keep: number; issues: number; limit: number }> = [];
  for (const limit of _STRING_LIMITS) {
    attempts.push({ keep, issues: Infinity, limit });
  }
  attempts.push({ keep: Math.min(keep, 5), issues: 10, limit: 16 });
  attempts.push({ keep: 0, issues: 0, limit: 16 });
  let candidate: EvidenceRecord | null = null;
  for (const attempt of attempts) {
    candidate = _reduce(record, attempt, original, prior);
    // `bytes` is written as the original size first: its digits are at
    // least as many as the final figure's, so the final record is no larger.
    const size = _bytes(JSON.stringify(candidate));
    if (size <= maxBytes) {
      candidate.truncated!.bytes = (prior?.bytes ?? 0) + original - size;
      return candidate;
    }
  }
  const skeleton = _skeleton(record, original, prior);
  skeleton.truncated!.bytes = (prior?.bytes ?? 0) + original -
    _bytes(JSON.stringify(skeleton));
  return skeleton;
}

function _reduce(
  record: EvidenceRecord,
  attempt: { keep: number; issues: number; limit: number },
  original: number,
  prior: Truncation | undefined,
): EvidenceRecord {
  const { keep, limit } = attempt;
  const calls = record.calls.length > 2 * keep
    ? [...record.calls.slice(0, keep), ...record.calls.slice(-keep || 0)]
    : record.calls;
  const keptCalls = keep === 0 ? [] : calls;
  const droppedCalls = record.calls.length - keptCalls.length;
  const issues = record.verifier.issues.slice(
    0,
    Math.min(record.verifier.issues.length, attempt.issues),
  );
  const droppedIssues = record.verifier.issues.length - issues.length;
  const cut = (value: unknown) => _cutDeep(value, limit);
  const { truncated: _, ...rest } = record;
  return {
    ...rest,
    program: {
      ...record.program,
      source: cutText(record.program.source, limit * _SOURCE_FACTOR),
      instruction: record.program.instruction === null
        ? null
        : cutText(record.program.instruction, limit * 4),
    },
    verifier: {
      ...record.verifier,
      issues: issues.map((issue) => ({
        ...issue,
        message: cutText(issue.message, limit),
      })),
    },
    worldBefore: cut(record.worldBefore) as EvidenceRecord["worldBefore"],
    worldAfter: cut(record.worldAfter) as EvidenceRecord["worldAfter"],
    calls: keptCalls.map((call) => {
      const out: EvidenceRecord["calls"][number] = {
        ...call,
        args: call.args.map(cut),
      };
      if ("result" in call) out.result = cut(call.result);
      if (call.error !== undefined) {
        out.error = {
          code: call.error.code,
          message: cut(call.error.message) as string,
        };
      }
      return out;
    }),
    checks: record.checks.map((check) => ({
      ...check,
      expr: cutText(check.expr, limit),
      ...(check.message === undefined
        ? {}
        : { message: cutText(check.message, limit) }),
    })),
    failure: record.failure === null ? null : {
      ...record.failure,
      message: cutText(record.failure.message, limit * 4),
    },
    truncated: {
      calls: (prior?.calls ?? 0) + droppedCalls,
      issues: (prior?.issues ?? 0) + droppedIssues,
      bytes: (prior?.bytes ?? 0) + original,
    },
  };
}

/** The record with nothing but its identity and outcome. */
function _skeleton(
  record: EvidenceRecord,
  original: number,
  prior: Truncation | undefined,
): EvidenceRecord {
  return {
    runId: cutText(record.runId, 64),
    robotId: cutText(record.robotId, 64),
    startedAt: cutText(record.startedAt, 40),
    endedAt: cutText(record.endedAt, 40),
    program: {
      sha256: cutText(record.program.sha256, 64),
      source: "",
      instruction: null,
      programId: record.program.programId === null
        ? null
        : cutText(record.program.programId, 64),
      version: record.program.version,
      keyId: record.program.keyId === null
        ? null
        : cutText(record.program.keyId, 64),
    },
    verifier: { ...record.verifier, issues: [] },
    worldBefore: null,
    worldAfter: null,
    calls: [],
    checks: [],
    outcome: record.outcome,
    failure: record.failure === null
      ? null
      : { label: record.failure.label, message: "" },
    resources: record.resources,
    truncated: {
      calls: (prior?.calls ?? 0) + record.calls.length,
      issues: (prior?.issues ?? 0) + record.verifier.issues.length,
      bytes: (prior?.bytes ?? 0) + original,
    },
  };
}

function _cutDeep(value: unknown, limit: number): unknown {
  if (typeof value === "string") return cutText(value, limit);
  if (Array.isArray(value)) return value.map((item) => _cutDeep(item, limit));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(out, key, {
        value: _cutDeep(item, limit),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

function _bytes(text: string): number {
  return _encoder.encode(text).byteLength;
}
