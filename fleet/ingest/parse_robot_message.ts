import { HOST_PORT as _HOST_PORT } from "../../verifier/mod.ts";
import type { EvidenceRecord } from "../../runtime/evidence/mod.ts";
import { parseRobotTopic } from "../../runtime/telemetry/mod.ts";
import type { RobotGrpc, RobotUpdate } from "../store/mod.ts";

/** What one MQTT message from a robot said. */
export type RobotMessage =
  | { kind: "robot"; update: RobotUpdate }
  | { kind: "evidence"; record: EvidenceRecord }
  | { kind: "ignored"; reason: string };

/** Topic segments and ids: no `/`, `+`, `#` or NUL, at most 128 characters. */
// deno-lint-ignore no-control-regex -- NUL is forbidden in MQTT topics
const _ID = /^[^/+#\u0000]{1,128}$/;
const _STATE = /^[a-z_]{1,32}$/;
const _OUTCOMES = new Set(["succeeded", "failed", "rejected", "stopped"]);
const _decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads one message a robot published under `<prefix>/robots/<id>/…`:
 * its retained `status`, a `telemetry` heartbeat or an `evidence` record.
 * Pure; anything malformed is `ignored` with the reason.
 */
export function parseRobotMessage(
  prefix: string,
  topic: string,
  payload: Uint8Array,
  atMs: number,
): RobotMessage {
  if (!topic.startsWith(`${prefix}/robots/`)) {
    return { kind: "ignored", reason: "topic outside the prefix" };
  }
  const parsed = parseRobotTopic(prefix, topic);
  if (parsed === null || parsed.rest.length !== 1) {
    return { kind: "ignored", reason: "not a robot topic" };
  }
  const { robotId } = parsed;
  const kind = parsed.rest[0];
  let text: string;
  try {
    text = _decoder.decode(payload);
  } catch {
    return { kind: "ignored", reason: "payload is not UTF-8" };
  }
  if (kind === "status") {
    let state = text.trim();
    const json = _json(state);
    if (_isObject(json) && typeof json.state === "string") state = json.state;
    if (!_STATE.test(state)) {
      return { kind: "ignored", reason: "status is not a state word" };
    }
    return {
      kind: "robot",
      update: { kind: "status", robotId, status: state, atMs },
    };
  }
  if (kind === "telemetry") {
    const json = _json(text);
    if (!_isObject(json)) {
      return { kind: "ignored", reason: "heartbeat is not a JSON object" };
    }
    const outbox = _isObject(json.outbox) ? json.outbox : {};
    const state = typeof json.state === "string" && _STATE.test(json.state)
      ? json.state
      : null;
    return {
      kind: "robot",
      update: {
        kind: "telemetry",
        robotId,
        atMs,
        status: state,
        currentRunId: typeof json.currentRunId === "string" &&
            _ID.test(json.currentRunId)
          ? json.currentRunId
          : null,
        outboxDepth: _count(outbox.depth),
        outboxOldestAgeMs: _count(outbox.oldestAgeMs),
        ...(_isObject(json.grpc) ? { grpc: _grpc(json.grpc) } : {}),
      },
    };
  }
  if (kind === "evidence") {
    const json = _json(text);
    const problem = _evidenceProblem(json, robotId);
    if (problem !== null) return { kind: "ignored", reason: problem };
    return { kind: "evidence", record: json as EvidenceRecord };
  }
  return { kind: "ignored", reason: `unknown topic kind "${kind}"` };
}

function _evidenceProblem(json: unknown, robotId: string): string | null {
  if (!_isObject(json)) return "evidence is not a JSON object";
  if (typeof json.runId !== "string" || !_ID.test(json.runId)) {
    return "evidence has no valid runId";
  }
  if (json.robotId !== robotId) {
    return `evidence robotId does not match the topic's "${robotId}"`;
  }
  if (
    typeof json.startedAt !== "string" ||
    !Number.isFinite(Date.parse(json.startedAt))
  ) return "evidence startedAt is not a date";
  if (typeof json.endedAt !== "string") return "evidence has no endedAt";
  if (typeof json.outcome !== "string" || !_OUTCOMES.has(json.outcome)) {
    return "evidence outcome is not one of succeeded, failed, rejected, stopped";
  }
  if (!_isObject(json.program) || typeof json.program.source !== "string") {
    return "evidence has no program";
  }
  if (
    json.failure !== null &&
    !(_isObject(json.failure) && typeof json.failure.label === "string")
  ) return "evidence failure has no label";
  if (!Array.isArray(json.calls)) return "evidence calls is not an array";
  return null;
}

/** The heartbeat's `grpc`; an address that is not `host:port` is none. */
function _grpc(json: Record<string, unknown>): RobotGrpc {
  return {
    address: typeof json.address === "string" && _HOST_PORT.test(json.address)
      ? json.address
      : null,
    tls: json.tls === true,
    clientAuth: json.clientAuth === true,
  };
}

function _count(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0
    ? value
    : null;
}

function _json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function _isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
