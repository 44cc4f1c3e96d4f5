/**
 * An evidence record as an MCAP file (https://mcap.dev), the format
 * Foxglove opens: JSON messages on JSON-schema channels, each at the time it
 * happened, so the run plays back on Foxglove's timeline.
 * @module
 */
import { McapWriter, TempBuffer } from "@mcap/core";
import type { CallRecord, EvidenceRecord } from "../runtime/evidence/mod.ts";

/** The topics an evidence MCAP holds. */
export const MCAP_TOPICS = {
  /** The whole evidence record, once, at the run's start. */
  evidence: "/cap/evidence",
  /** One message per skill call, at the call's start. */
  calls: "/cap/calls",
  /** The world estimate: `phase: "before"` at the start, `"after"` at the end. */
  world: "/cap/world",
  /** Run events: run_started, skill_started, skill_ended, check, run_ended. */
  events: "/cap/events",
  /** The same events as `foxglove.Log` lines, for Foxglove's Log panel. */
  log: "/cap/log",
  /** The world before and after as `foxglove.SceneUpdate` (frame `table`), for the 3D panel. */
  scene: "/cap/scene",
} as const;

const _OBJ_SCHEMA = {
  type: "object",
  properties: {
    id: { type: "string" },
    kind: { type: "string" },
    color: { type: "string" },
    x: { type: "number" },
    y: { type: "number" },
    z: { type: "number" },
    on: { type: ["string", "null"] },
  },
};

const _CALL_PROPERTIES = {
  seq: { type: "integer" },
  skill: { type: "string" },
  args: { type: "array" },
  ok: { type: "boolean" },
  result: {},
  error: {
    type: "object",
    properties: { code: { type: "string" }, message: { type: "string" } },
  },
  startMs: { type: "number", description: "ms after the run started" },
  durationMs: { type: "number" },
};

const _SCHEMAS = {
  evidence: {
    name: "cap.v1.EvidenceRecord",
    schema: {
      title: "cap.v1.EvidenceRecord",
      description: "One run's evidence record (see DESIGN.md, Evidence record)",
      type: "object",
      properties: {
        runId: { type: "string" },
        robotId: { type: "string" },
        startedAt: { type: "string", format: "date-time" },
        endedAt: { type: "string", format: "date-time" },
        program: { type: "object" },
        verifier: { type: "object" },
        worldBefore: { type: ["object", "null"] },
        worldAfter: { type: ["object", "null"] },
        calls: {
          type: "array",
          items: { type: "object", properties: _CALL_PROPERTIES },
        },
        checks: { type: "array" },
        outcome: {
          type: "string",
          enum: ["succeeded", "failed", "rejected", "stopped"],
        },
        failure: { type: ["object", "null"] },
        resources: { type: "object" },
        truncated: { type: "object" },
      },
    },
  },
  calls: {
    name: "cap.v1.SkillCall",
    schema: {
      title: "cap.v1.SkillCall",
      type: "object",
      properties: { runId: { type: "string" }, ..._CALL_PROPERTIES },
    },
  },
  world: {
    name: "cap.v1.WorldState",
    schema: {
      title: "cap.v1.WorldState",
      type: "object",
      properties: {
        runId: { type: "string" },
        phase: { type: "string", enum: ["before", "after"] },
        holding: { type: ["string", "null"] },
        objects: { type: "array", items: _OBJ_SCHEMA },
      },
    },
  },
  events: {
    name: "cap.v1.RunEvent",
    schema: {
      title: "cap.v1.RunEvent",
      type: "object",
      properties: {
        runId: { type: "string" },
        type: {
          type: "string",
          enum: [
            "run_started",
            "skill_started",
            "skill_ended",
            "check",
            "run_ended",
          ],
        },
        seq: { type: "integer" },
        skill: { type: "string" },
        ok: { type: "boolean" },
        outcome: { type: "string" },
        label: { type: ["string", "null"] },
        message: { type: "string" },
      },
    },
  },
  log: {
    name: "foxglove.Log",
    schema: {
      title: "foxglove.Log",
      description: "A log message",
      type: "object",
      properties: {
        timestamp: {
          type: "object",
          properties: {
            sec: { type: "integer", minimum: 0 },
            nsec: { type: "integer", minimum: 0, maximum: 999999999 },
          },
        },
        level: {
          type: "integer",
          description: "1 debug, 2 info, 3 warning, 4 error, 5 fatal",
          enum: [0, 1, 2, 3, 4, 5],
        },
        message: { type: "string" },
        name: { type: "string" },
        file: { type: "string" },
        line: { type: "integer", minimum: 0 },
      },
    },
  },
  scene: {
    name: "foxglove.SceneUpdate",
    schema: {
      title: "foxglove.SceneUpdate",
      description:
        "An update to the entities displayed in a 3D scene (a subset of Foxglove's schema: cubes and cylinders)",
      type: "object",
      properties: {
        deletions: { type: "array", items: { type: "object" } },
        entities: {
          type: "array",
          items: {
            type: "object",
            properties: {
              timestamp: { type: "object" },
              frame_id: { type: "string" },
              id: { type: "string" },
              lifetime: { type: "object" },
              frame_locked: { type: "boolean" },
              metadata: { type: "array" },
              arrows: { type: "array" },
              cubes: { type: "array" },
              spheres: { type: "array" },
              cylinders: { type: "array" },
              lines: { type: "array" },
              triangles: { type: "array" },
              texts: { type: "array" },
              models: { type: "array" },
            },
          },
        },
      },
    },
  },
} as const;

type _Topic = keyof typeof MCAP_TOPICS;

const _LOG = { info: 2, warning: 3, error: 4 } as const;

/**
 * Writes `record` as MCAP bytes: the record on `/cap/evidence`, one message
 * per skill call on `/cap/calls` at its time, the world estimate before and
 * after on `/cap/world`, run events on `/cap/events` and, for Foxglove's Log
 * panel, `/cap/log`. Times come from `startedAt` plus each call's `startMs`.
 *
 * @example
 * ```ts
 * import { McapIndexedReader, TempBuffer } from "@mcap/core";
 * import { evidenceToMcap } from "./evidence_to_mcap.ts";
 * const bytes = await evidenceToMcap({
 *   runId: "r1", robotId: "arm-01",
 *   startedAt: "2026-01-01T00:00:00.000Z", endedAt: "2026-01-01T00:00:01.000Z",
 *   program: { sha256: "0".repeat(64), source: "say('hi')", instruction: null,
 *     programId: null, version: null, keyId: null },
 *   verifier: { ok: true, issues: [] },
 *   worldBefore: { objects: [], holding: null },
 *   worldAfter: { objects: [], holding: null },
 *   calls: [{ seq: 1, skill: "say", args: ["hi"], ok: true, startMs: 5, durationMs: 1 }],
 *   checks: [], outcome: "succeeded", failure: null,
 *   resources: { wallMs: 1000, skillCalls: 1, memoryLimitBytes: 1 << 26, timeoutMs: 60000 },
 * });
 * const reader = await McapIndexedReader.Initialize({ readable: new TempBuffer(bytes) });
 * let calls = 0;
 * for await (const m of reader.readMessages({ topics: ["/cap/calls"] })) calls++;
 * if (calls !== 1) throw new Error(`expected one call, read ${calls}`);
 * ```
 */
export async function evidenceToMcap(
  record: EvidenceRecord,
): Promise<Uint8Array> {
  const buffer = new TempBuffer();
  const writer = new McapWriter({ writable: buffer });
  await writer.start({ profile: "", library: "cap-edge" });
  const channels = {} as Record<_Topic, number>;
  for (const topic of Object.keys(MCAP_TOPICS) as _Topic[]) {
    const schemaId = await writer.registerSchema({
      name: _SCHEMAS[topic].name,
      encoding: "jsonschema",
      data: _utf8(JSON.stringify(_SCHEMAS[topic].schema)),
    });
    channels[topic] = await writer.registerChannel({
      schemaId,
      topic: MCAP_TOPICS[topic],
      messageEncoding: "json",
      metadata: new Map(),
    });
  }
  const start = _nanos(record.startedAt);
  const end = _maxBigint(_nanos(record.endedAt), start);
  const messages: { topic: _Topic; time: bigint; data: unknown }[] = [];
  const at = (topic: _Topic, time: bigint, data: unknown) =>
    messages.push({ topic, time, data });
  const log = (time: bigint, level: number, message: string) =>
    at("log", time, {
      timestamp: {
        sec: Number(time / 1_000_000_000n),
        nsec: Number(time % 1_000_000_000n),
      },
      level,
      message,
      name: record.robotId,
      file: record.program.programId ?? "program",
      line: 0,
    });
  const { runId } = record;

  at("evidence", start, record);
  at("events", start, { runId, type: "run_started" });
  log(
    start,
    _LOG.info,
    `run ${runId} started: ${record.program.programId ?? "unsigned program"}${
      record.program.version === null ? "" : ` v${record.program.version}`
    }`,
  );
  if (record.worldBefore !== null) {
    at("world", start, { runId, phase: "before", ...record.worldBefore });
    at("scene", start, _scene(record.worldBefore.objects, start));
  }
  for (const call of record.calls) {
    const callStart = start + _msToNanos(call.startMs);
    const callEnd = callStart + _msToNanos(call.durationMs);
    at("calls", callStart, { runId, ...call });
    at("events", callStart, {
      runId,
      type: "skill_started",
      seq: call.seq,
      skill: call.skill,
    });
    at("events", callEnd, {
      runId,
      type: "skill_ended",
      seq: call.seq,
      skill: call.skill,
      ok: call.ok,
      ...(call.error
        ? { message: `${call.error.code}: ${call.error.message}` }
        : {}),
    });
    log(callEnd, call.ok ? _LOG.info : _LOG.warning, _describeCall(call));
  }
  for (const check of record.checks) {
    at("events", end, {
      runId,
      type: "check",
      ok: check.ok,
      message: check.expr,
    });
    log(
      end,
      check.ok ? _LOG.info : _LOG.error,
      `check ${check.ok ? "passed" : "failed"}: ${check.expr}`,
    );
  }
  if (record.worldAfter !== null) {
    at("world", end, { runId, phase: "after", ...record.worldAfter });
    at("scene", end, _scene(record.worldAfter.objects, end));
  }
  at("events", end, {
    runId,
    type: "run_ended",
    outcome: record.outcome,
    label: record.failure?.label ?? null,
    ...(record.failure ? { message: record.failure.message } : {}),
  });
  log(
    end,
    record.outcome === "succeeded" ? _LOG.info : _LOG.error,
    `run ${runId} ${record.outcome}${
      record.failure
        ? ` (${record.failure.label}): ${record.failure.message}`
        : ""
    }`,
  );

  // MCAP readers expect log times in order within a file's chunks.
  messages.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const sequence = {} as Record<_Topic, number>;
  for (const message of messages) {
    sequence[message.topic] = (sequence[message.topic] ?? 0) + 1;
    await writer.addMessage({
      channelId: channels[message.topic],
      sequence: sequence[message.topic]!,
      logTime: message.time,
      publishTime: message.time,
      data: _utf8(JSON.stringify(message.data)),
    });
  }
  await writer.addMetadata({
    name: "cap.run",
    metadata: new Map([
      ["runId", runId],
      ["robotId", record.robotId],
      ["outcome", record.outcome],
      ["label", record.failure?.label ?? ""],
      ["programId", record.program.programId ?? ""],
      ["version", String(record.program.version ?? "")],
    ]),
  });
  await writer.end();
  return buffer.get();
}

const _RGB: Record<string, [number, number, number]> = {
  red: [0.85, 0.15, 0.15],
  green: [0.15, 0.7, 0.25],
  blue: [0.15, 0.35, 0.9],
  yellow: [0.95, 0.85, 0.1],
  orange: [1, 0.55, 0.1],
  purple: [0.55, 0.25, 0.75],
  white: [0.95, 0.95, 0.95],
  black: [0.1, 0.1, 0.1],
  gray: [0.5, 0.5, 0.5],
  grey: [0.5, 0.5, 0.5],
  pink: [1, 0.5, 0.7],
  brown: [0.55, 0.35, 0.2],
};

/** The objects as one `foxglove.SceneUpdate`: blocks as 4 cm cubes, bowls as cylinders. */
function _scene(objects: readonly unknown[], time: bigint): unknown {
  const timestamp = {
    sec: Number(time / 1_000_000_000n),
    nsec: Number(time % 1_000_000_000n),
  };
  const entities = objects.map((value) => {
    const o = value as Record<string, unknown>;
    const [r, g, b] = _RGB[String(o.color)] ?? [0.6, 0.6, 0.6];
    const bowl = o.kind === "bowl";
    const size = bowl
      ? { x: 0.12, y: 0.12, z: 0.06 }
      : { x: 0.04, y: 0.04, z: 0.04 };
    const primitive = {
      pose: {
        position: {
          x: Number(o.x ?? 0),
          y: Number(o.y ?? 0),
          z: Number(o.z ?? 0) + size.z / 2,
        },
        orientation: { x: 0, y: 0, z: 0, w: 1 },
      },
      size,
      color: { r, g, b, a: bowl ? 0.6 : 1 },
      ...(bowl ? { bottom_scale: 0.7, top_scale: 1 } : {}),
    };
    return {
      timestamp,
      frame_id: "table",
      id: String(o.id ?? "object"),
      lifetime: { sec: 0, nsec: 0 },
      frame_locked: false,
      metadata: [
        { key: "kind", value: String(o.kind ?? "") },
        {
          key: "on",
          value: o.on === null || o.on === undefined ? "table" : String(o.on),
        },
      ],
      arrows: [],
      cubes: bowl ? [] : [primitive],
      spheres: [],
      cylinders: bowl ? [primitive] : [],
      lines: [],
      triangles: [],
      texts: [{
        pose: {
          position: {
            x: primitive.pose.position.x,
            y: primitive.pose.position.y,
            z: primitive.pose.position.z + size.z,
          },
          orientation: { x: 0, y: 0, z: 0, w: 1 },
        },
        billboard: true,
        font_size: 12,
        scale_invariant: true,
        color: { r: 1, g: 1, b: 1, a: 1 },
        text: String(o.id ?? ""),
      }],
      models: [],
    };
  });
  // Each update replaces the whole scene: delete everything, then draw.
  return { deletions: [{ timestamp, type: 1, id: "" }], entities };
}

function _describeCall(call: CallRecord): string {
  const args = call.args.map((a) => JSON.stringify(a)).join(", ");
  return `#${call.seq} ${call.skill}(${args}) ${
    call.ok ? "ok" : `failed: ${call.error?.code}: ${call.error?.message}`
  }`;
}

function _utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** An ISO 8601 time in nanoseconds since the epoch; 0 when unparsable. */
function _nanos(iso: string): bigint {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? BigInt(ms) * 1_000_000n : 0n;
}

function _msToNanos(ms: number): bigint {
  return Number.isFinite(ms) && ms > 0 ? BigInt(Math.round(ms * 1e6)) : 0n;
}

function _maxBigint(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
