import { DryRunner } from "../dry_runner.ts";
import type { LlmClient } from "../llm_client.ts";
import { synthesize } from "../synthesize.ts";
import { SynthesisError } from "../synthesis_error.ts";
import type { EvalTask } from "./load_eval_tasks.ts";

/** The result of one task. */
export interface EvalTaskResult {
  /** Id of the task. */
  id: string;
  /** The instruction given to the model. */
  instruction: string;
  /** Whether a program passed the dry-run and its checks. */
  ok: boolean;
  /** Attempts used (first answer plus repairs). */
  attempts: number;
  /** Helpers written hierarchically, over all attempts. */
  helpers: number;
  /** One label per failed attempt: a dry-run failure label, `verification_rejected`, or the synthesis error code. */
  failureLabels: string[];
  /** Why the task failed, when it did. */
  error?: string;
}

/** The suite's result. */
export interface EvalReport {
  /** The model that answered, or the replay note. */
  model: string;
  /** One result per task, in order. */
  tasks: EvalTaskResult[];
  /** Tasks passed. */
  passed: number;
  /** Tasks run. */
  total: number;
  /** Attempts over all tasks. */
  attempts: number;
}

/** Options for {@linkcode runEval}. */
export interface RunEvalOptions {
  /** The model client. */
  client: LlmClient;
  /** Attempts per task (first answer plus repairs); default the synthesizer's. */
  maxAttempts?: number;
  /** Depth of hierarchical helper generation; default the synthesizer's. */
  maxHelperDepth?: number;
  /** The dry-runner to share. Default: one warm `DryRunner` for the whole suite. */
  dryRunner?: DryRunner;
  /** Called after each task (progress output). */
  onTask?: (result: EvalTaskResult) => void;
  /** Aborting stops the suite. */
  signal?: AbortSignal;
}

/**
 * Runs every task through synthesis (prompt, repair loop, dry-run with the
 * task's postconditions) against `client` and counts successes, attempts and
 * failure labels. A synthesis error fails its task, not the suite.
 */
export async function runEval(
  tasks: readonly EvalTask[],
  options: RunEvalOptions,
): Promise<EvalReport> {
  if (options.dryRunner === undefined) {
    await using dryRunner = await DryRunner.create();
    return await runEval(tasks, { ...options, dryRunner });
  }
  const dryRunner = options.dryRunner;
  const results: EvalTaskResult[] = [];
  for (const task of tasks) {
    options.signal?.throwIfAborted();
    let result: EvalTaskResult;
    try {
      const out = await synthesize(task.instruction, {
        scene: task.scene,
        checks: task.checks,
        client: options.client,
        dryRunner,
        ...(options.maxAttempts === undefined
          ? {}
          : { maxAttempts: options.maxAttempts }),
        ...(options.maxHelperDepth === undefined
          ? {}
          : { maxHelperDepth: options.maxHelperDepth }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      result = {
        id: task.id,
        instruction: task.instruction,
        ok: out.ok,
        attempts: out.attempts.length,
        helpers: out.attempts.reduce((n, a) => n + a.helpers.length, 0),
        failureLabels: out.attempts.flatMap((a) => {
          if (a.verifier !== null && !a.verifier.ok) {
            return ["verification_rejected"];
          }
          const label = a.dryRun?.failure?.label;
          return label === undefined ? [] : [label];
        }),
        ...(out.error === undefined ? {} : { error: out.error }),
      };
    } catch (error) {
      if (!(error instanceof SynthesisError)) throw error;
      if (error.code === "aborted") throw error;
      result = {
        id: task.id,
        instruction: task.instruction,
        ok: false,
        attempts: error.attempts.length,
        helpers: 0,
        failureLabels: [error.code],
        error: error.message,
      };
    }
    results.push(result);
    options.onTask?.(result);
  }
  return {
    model: options.client.model,
    tasks: results,
    passed: results.filter((r) => r.ok).length,
    total: results.length,
    attempts: results.reduce((n, r) => n + r.attempts, 0),
  };
}
