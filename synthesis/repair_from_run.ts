import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import { parseScene, type Scene } from "../skills-bridge/mod.ts";
import type { Envelope } from "../verifier/mod.ts";
import { buildRepairMessage } from "./build_repair_message.ts";
import { HELPER_MARKER } from "./build_helper_prompt.ts";
import {
  deliverToRobots,
  type DeliverToRobotsOptions,
  type RobotDelivery,
} from "./deliver_to_robots.ts";
import type { ChatMessage, LlmClient } from "./llm_client.ts";
import { signProgram } from "./sign_program.ts";
import { type SynthesisResult, synthesize } from "./synthesize.ts";

/** Options of {@linkcode repairFromRun}. */
export interface RepairFromRunOptions {
  /** The model that writes the repair. */
  client: LlmClient;
  /** Most attempts of the repair loop. Default: `synthesize`'s. */
  maxAttempts?: number | undefined;
  /** Most levels of helpers the model may be asked for. Default: `synthesize`'s. */
  maxHelperDepth?: number | undefined;
  /**
   * Signs the repair as the next version of the run's program, for the
   * run's robot only, with the caps it ran with. Without it nothing is
   * signed or delivered.
   */
  signing?: { privateJwk: JsonWebKey; keyId?: string | undefined } | undefined;
  /** Delivers the signed repair to `targets` (`host:port`), as {@linkcode deliverToRobots} does. */
  deliver?:
    | ({ targets: readonly string[] } & Omit<DeliverToRobotsOptions, "signal">)
    | undefined;
  /** Aborting stops the repair (the model call, the dry-run, the delivery). */
  signal?: AbortSignal | undefined;
}

/** What {@linkcode repairFromRun} did. */
export interface RunRepair {
  /** The repair loop's result: `ok`, the program, every attempt, the error. */
  synthesis: SynthesisResult;
  /** The signed repair, or null when it was not signed (no key, or no repair). */
  envelope: Envelope | null;
  /** The signed program's id, or null. */
  programId: string | null;
  /** The signed program's version, or null. */
  version: number | null;
  /** One result per delivery target (empty without `deliver`). */
  deliveries: RobotDelivery[];
}

/**
 * Repair from the field: the recorded run's instruction, program and
 * failure (label, line, calls, world) go into the repair loop as its first
 * feedback; the repair is dry-run in the world the run started from, signed
 * as the next version of the same program for that robot (never with more
 * than the caps it ran with) and delivered. Throws before asking the model
 * when the record has no instruction or no world; a model that cannot be
 * used throws the loop's `SynthesisError`.
 *
 * @example
 * ```ts ignore
 * const repair = await repairFromRun(record, {
 *   client,
 *   signing: { privateJwk, keyId: "k1" },
 *   deliver: { targets: ["10.0.0.7:50051"] },
 * });
 * console.log(repair.synthesis.ok, repair.version, repair.deliveries[0]?.message);
 * ```
 */
export async function repairFromRun(
  record: EvidenceRecord,
  options: RepairFromRunOptions,
): Promise<RunRepair> {
  const instruction = record.program.instruction;
  if (instruction === null) {
    throw new Error(
      `Cannot repair run "${record.runId}": its program has no instruction`,
    );
  }
  const scene = sceneFromRecord(record);
  const { signal } = options;
  const synthesis = await synthesize(instruction, {
    scene,
    checks: record.checks.map((c) => c.expr),
    client: seedWithRecord(options.client, record),
    ...(options.maxAttempts === undefined
      ? {}
      : { maxAttempts: options.maxAttempts }),
    ...(options.maxHelperDepth === undefined
      ? {}
      : { maxHelperDepth: options.maxHelperDepth }),
    ...(signal ? { signal } : {}),
  });
  const repair: RunRepair = {
    synthesis,
    envelope: null,
    programId: null,
    version: null,
    deliveries: [],
  };
  if (!synthesis.ok || options.signing === undefined) return repair;
  const { privateJwk, keyId } = options.signing;
  const version = Math.max(
    Math.floor(Date.now() / 1000),
    (record.program.version ?? 0) + 1,
  );
  repair.envelope = await signProgram(synthesis, privateJwk, {
    ...(keyId === undefined ? {} : { keyId }),
    ...(record.program.programId === null
      ? {}
      : { programId: record.program.programId }),
    version,
    robots: [record.robotId],
    // The caps the robot ran it with: a repair never asks for more.
    budgets: {
      timeoutMs: record.resources.timeoutMs,
      memoryBytes: record.resources.memoryLimitBytes,
    },
  });
  const manifest = JSON.parse(
    new TextDecoder().decode(Uint8Array.fromBase64(repair.envelope.payload)),
  ) as { programId: string; version: number };
  repair.programId = manifest.programId;
  repair.version = manifest.version;
  if (options.deliver !== undefined && options.deliver.targets.length > 0) {
    signal?.throwIfAborted();
    const { targets, ...deliver } = options.deliver;
    repair.deliveries = await deliverToRobots(repair.envelope, targets, {
      ...deliver,
      ...(signal ? { signal } : {}),
    });
  }
  return repair;
}

/**
 * The scene a recorded run started from: its objects where they were (a
 * held object cannot be expressed in a scene and is left out), the
 * workspace a `workspace()` call returned, or the default.
 */
export function sceneFromRecord(record: EvidenceRecord): Scene {
  const world = record.worldBefore;
  if (world === null) {
    throw new Error(
      `Cannot repair run "${record.runId}": its record has no world before the run`,
    );
  }
  const workspace = record.calls.find((c) => c.skill === "workspace" && c.ok)
    ?.result;
  return parseScene({
    ...(typeof workspace === "object" && workspace !== null
      ? { workspace }
      : {}),
    objects: world.objects.filter((o) => o.id !== world.holding).map((o) => ({
      id: o.id,
      kind: o.kind,
      color: o.color,
      x: o.x,
      y: o.y,
      ...(o.on === null || o.on === world.holding ? {} : { on: o.on }),
    })),
  }, { source: `the world before run "${record.runId}"` });
}

/**
 * Wraps `client` so that every conversation starts with the recorded
 * program as the model's first answer and the field failure as the
 * feedback to it.
 */
export function seedWithRecord(
  client: LlmClient,
  record: EvidenceRecord,
): LlmClient {
  const seed: ChatMessage[] = [
    {
      role: "assistant",
      content: "```js\n" + record.program.source + "\n```",
    },
    {
      role: "user",
      content:
        `This program ran on robot "${record.robotId}" in the field (run ${record.runId}) and ended ${record.outcome}.\n` +
        buildRepairMessage({ kind: "dry_run", evidence: record }),
    },
  ];
  return {
    model: client.model,
    baseURL: client.baseURL,
    complete(messages, options) {
      // The task is the first user message; helper prompts stay as they are.
      const task = messages.findIndex((m) => m.role === "user");
      const isTask = task >= 0 &&
        !messages.some((m) => m.content.includes(HELPER_MARKER));
      const seeded = isTask
        ? [...messages.slice(0, task + 1), ...seed, ...messages.slice(task + 1)]
        : messages;
      return client.complete(seeded, options);
    },
  };
}
