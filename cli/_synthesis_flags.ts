import { type ModelConnection, openModelClient } from "../synthesis/mod.ts";
import { UsageError } from "./_usage_error.ts";

/**
 * The `parseArgs` options that `cap synth` and `cap eval` share: which model,
 * how many attempts and helper levels, replay, JSON output, help.
 */
export const _SYNTHESIS_OPTIONS = {
  model: { type: "string" },
  "max-attempts": { type: "string" },
  "max-helper-depth": { type: "string" },
  replay: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The values of {@linkcode _SYNTHESIS_OPTIONS} after parsing. */
export interface SynthesisFlagValues {
  model?: string | undefined;
  "max-attempts"?: string | undefined;
  "max-helper-depth"?: string | undefined;
  replay?: boolean | undefined;
}

/** The synthesis limits given on the command line (absent: the default). */
export interface SynthesisLimits {
  maxAttempts?: number;
  maxHelperDepth?: number;
}

/**
 * Reads `--max-attempts` (an integer >= 1) and `--max-helper-depth` (an
 * integer >= 0); a malformed one is a {@linkcode UsageError} naming it.
 */
export function _synthesisLimits(values: SynthesisFlagValues): SynthesisLimits {
  const maxAttempts = _int(values["max-attempts"]);
  const maxHelperDepth = _int(values["max-helper-depth"]);
  if (maxAttempts === null || (maxAttempts !== undefined && maxAttempts < 1)) {
    throw new UsageError(
      `--max-attempts must be an integer >= 1, got ${values["max-attempts"]}`,
    );
  }
  if (
    maxHelperDepth === null ||
    (maxHelperDepth !== undefined && maxHelperDepth < 0)
  ) {
    throw new UsageError(
      `--max-helper-depth must be an integer >= 0, got ${
        values["max-helper-depth"]
      }`,
    );
  }
  return {
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
    ...(maxHelperDepth === undefined ? {} : { maxHelperDepth }),
  };
}

/** Connects to the model named by `--model` (or the replay server, `--replay`). */
export function _openModel(
  values: SynthesisFlagValues,
  signal?: AbortSignal,
): Promise<ModelConnection> {
  return openModelClient({
    ...(values.model === undefined ? {} : { model: values.model }),
    ...(values.replay ? { replay: true } : {}),
    ...(signal ? { signal } : {}),
  });
}

function _int(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isInteger(n) ? n : null;
}
