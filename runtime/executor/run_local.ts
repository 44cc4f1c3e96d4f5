import {
  type Scene,
  SimBackend,
  type SkillApi,
} from "../../skills-bridge/mod.ts";
import type { Caps } from "./caps.ts";
import type { EvidenceRecord } from "../evidence/mod.ts";
import { Executor, type RunEvent } from "./executor.ts";

/** Options of {@linkcode runLocal}. */
export interface RunLocalOptions {
  /** The simulated world to run against. */
  scene: Scene;
  /** The instruction the program was written for, kept in the evidence. */
  instruction?: string | null;
  /** Postconditions: JavaScript expressions over the query skills. */
  checks?: readonly string[];
  /** The caps of this run (here they are the robot's own caps). */
  caps?: Partial<Caps>;
  /** Robot id written into the evidence; default `"local"`. */
  robotId?: string;
  /** The skill API; default the tabletop API. */
  api?: SkillApi;
  /** Multiplies `wait` and skill latencies of the simulator; default 1. */
  timeScale?: number;
  /** Aborting halts the run (outcome `stopped`). */
  signal?: AbortSignal;
  /** Called with every event of the run, in order. */
  onEvent?: (event: RunEvent) => void;
}

/**
 * Runs an unsigned program once against a fresh simulator of `scene`: the
 * development path of `cap run` and the cloud's dry-run. Verifies the source
 * first; always resolves with the evidence record.
 *
 * @example
 * ```ts ignore
 * const evidence = await runLocal('pick("red_block"); place("blue_bowl")', { scene });
 * ```
 */
export async function runLocal(
  source: string,
  options: RunLocalOptions,
): Promise<EvidenceRecord> {
  await using backend = new SimBackend(options.scene, {
    timeScale: options.timeScale ?? 1,
  });
  await using executor = await Executor.create({
    backend,
    robotId: options.robotId ?? "local",
    ...(options.api ? { api: options.api } : {}),
    ...(options.caps ? { caps: options.caps } : {}),
  });
  return await executor.run({
    source,
    instruction: options.instruction ?? null,
    checks: options.checks ?? [],
  }, {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
}
