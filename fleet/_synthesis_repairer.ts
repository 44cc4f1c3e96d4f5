/**
 * The console's repairer over the synthesis loop (`repairFromRun`, the same
 * one `cap synth --from-run` runs). Loaded by `startFleetConsole` only when
 * the console is configured to repair, so that the fleet's entry loads no
 * LLM client.
 * @module
 */
import type { FleetRepairOptions } from "./fleet_repair_options.ts";
import { createOpenAiClient, repairFromRun } from "../synthesis/mod.ts";
import type { RunRepairer } from "./repair_jobs.ts";

/** How the console repairs, and with `run` the operator key that signs the `run` command. */
export interface _SynthesisRepairerOptions extends FleetRepairOptions {
  /** With `run`: the operator key that signs the `run` command. */
  operator?: { privateJwk: JsonWebKey; keyId?: string | undefined } | undefined;
}

/**
 * A {@linkcode RunRepairer} over `repairFromRun`. Throws the synthesis
 * loop's `SynthesisError` (`no_model`) at once when no model is configured.
 */
export function _synthesisRepairer(
  options: _SynthesisRepairerOptions,
): RunRepairer {
  const client = createOpenAiClient({
    ...(options.llmUrl === undefined ? {} : { baseURL: options.llmUrl }),
    ...(options.llmModel === undefined ? {} : { model: options.llmModel }),
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
  });
  const keyId = options.signingKeyId ?? options.signingKey.kid;
  return {
    async repair(record, target, { run, signal }) {
      if (run && options.operator === undefined) {
        throw new Error(
          `Cannot run the repair of run "${record.runId}": the console has no operator key (start it with --operator-key <private.jwk.json>)`,
        );
      }
      const repair = await repairFromRun(record, {
        client,
        maxAttempts: options.maxAttempts,
        signing: {
          privateJwk: options.signingKey,
          ...(keyId === undefined ? {} : { keyId }),
        },
        deliver: {
          targets: [target.address],
          run,
          ...(target.tls === undefined ? {} : { tls: target.tls }),
          ...(run && options.operator !== undefined
            ? {
              operator: {
                privateJwk: options.operator.privateJwk,
                ...(options.operator.keyId === undefined
                  ? {}
                  : { keyId: options.operator.keyId }),
                robotIds: { [target.address]: target.robotId },
              },
            }
            : {}),
        },
        signal,
      });
      const { synthesis } = repair;
      const delivery = repair.deliveries[0] ?? null;
      return {
        ok: synthesis.ok && delivery?.ok === true,
        attempts: synthesis.attempts.length,
        programId: repair.programId,
        version: repair.version,
        source: synthesis.source,
        delivery: delivery?.message ?? null,
        deliveredRunId: delivery?.evidence?.runId ?? null,
        error: !synthesis.ok
          ? synthesis.error ?? "the repair loop found no program"
          : delivery === null || delivery.ok
          ? null
          : delivery.message,
      };
    },
  };
}
