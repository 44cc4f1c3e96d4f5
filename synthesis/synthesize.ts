import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import { runLocal } from "../runtime/executor/mod.ts";
import type { DryRunOptions } from "./dry_runner.ts";
import type { Scene, SkillApi } from "../skills-bridge/mod.ts";
import { TABLETOP_API } from "../skills-bridge/mod.ts";
import type { VerifierReport } from "../verifier/mod.ts";
import { verifyProgram } from "../verifier/mod.ts";
import { buildHelperPrompt } from "./build_helper_prompt.ts";
import { buildPrompt } from "./build_prompt.ts";
import { buildRepairMessage } from "./build_repair_message.ts";
import { createOpenAiClient } from "./create_openai_client.ts";
import { extractCode } from "./extract_code.ts";
import type { ChatMessage, LlmClient } from "./llm_client.ts";
import { promptSha256 } from "./prompt_sha256.ts";
import { SynthesisError } from "./synthesis_error.ts";

/** Default bound on attempts (first answer plus repairs). */
export const DEFAULT_MAX_ATTEMPTS = 4;
/** Default bound on the depth of hierarchical helper generation. */
export const DEFAULT_MAX_HELPER_DEPTH = 2;

/** One helper function the model wrote on request (hierarchical generation). */
export interface HelperRecord {
  name: string;
  /** 1 for helpers the program calls, 2 for helpers those helpers call, … */
  depth: number;
  promptSha256: string;
  source: string;
}

/** One attempt: the prompt's hash, the program, the verifier report and the dry-run evidence. */
export interface SynthesisAttempt {
  /** 1-based. */
  attempt: number;
  /** SHA-256 of the conversation sent for this attempt. */
  promptSha256: string;
  /** The model's raw answer. */
  answer: string;
  /** The program checked: the extracted code plus generated helpers; `null` when none could be extracted. */
  source: string | null;
  /** Helpers written on request for this attempt. */
  helpers: HelperRecord[];
  /** The verifier's report on `source`, or `null` when it was not reached. */
  verifier: VerifierReport | null;
  /** The dry-run's evidence record, or `null` when the verifier refused the program. */
  dryRun: EvidenceRecord | null;
  /** Why the attempt ended without a program (malformed answer, model error). */
  error?: string;
}

/** What {@linkcode synthesize} produced. */
export interface SynthesisResult {
  /** True when a program passed the verifier and its dry-run. */
  ok: boolean;
  instruction: string;
  /** The accepted program; on failure the last candidate, or `null` when there was none. */
  source: string | null;
  /** Every attempt, in order. */
  attempts: SynthesisAttempt[];
  /** The model's name (provenance). */
  model: string;
  /** SHA-256 of the conversation that produced `source` (the last attempt's prompt). */
  promptSha256: string;
  /** The postconditions the dry-run checked. */
  checks: string[];
  /** The skill API version the program was written for. */
  apiVersion: string;
  /** On failure: why, with the last attempt's failure. */
  error?: string;
}

/** Options for {@linkcode synthesize}. */
export interface SynthesizeOptions {
  /** The scene the program is written for and dry-run in. */
  scene: Scene;
  /** Postconditions (JS expressions over detect/holding/workspace) the dry-run checks. */
  checks?: readonly string[];
  /** The model. Default: `createOpenAiClient()` from the environment. */
  client?: LlmClient;
  /** The skill API. Default: the tabletop API. */
  api?: SkillApi;
  /** Attempts (first answer plus repairs), at least 1. Default: 4. */
  maxAttempts?: number;
  /** Depth of hierarchical helper generation; 0 turns it off. Default: 2. */
  maxHelperDepth?: number;
  /**
   * Runs the dry-runs, e.g. a warm `DryRunner` shared by many syntheses.
   * Default: `runLocal` with `caps` and no waiting (time scale 0), one worker per run.
   */
  dryRunner?: {
    run(source: string, options: DryRunOptions): Promise<EvidenceRecord>;
  };
  /** Caps for the dry-run when no `dryRunner` is given. Default: the runtime's. */
  caps?: Partial<
    { timeoutMs: number; memoryBytes: number; maxSkillCalls: number }
  >;
  /** Called after each attempt (progress). */
  onAttempt?: (attempt: SynthesisAttempt) => void;
  signal?: AbortSignal;
}

const UNKNOWN_FUNCTION = /unknown function "([A-Za-z_$][\w$]*)"/;

/**
 * Writes a program for `instruction` with an LLM: prompt from the skill API,
 * extraction, hierarchical generation of undefined helpers, verification and a
 * dry-run in the simulator on `scene` with the postconditions; verifier issues
 * and dry-run evidence go back to the model, at most `maxAttempts` times.
 *
 * Resolves `{ ok: true }` with the accepted program, or `{ ok: false, error }`
 * with the full attempt log when no attempt passed. Rejects with a
 * {@linkcode SynthesisError} (carrying the attempts so far) when the model is
 * unreachable, errs, times out or answers without a program.
 */
export async function synthesize(
  instruction: string,
  options: SynthesizeOptions,
): Promise<SynthesisResult> {
  const { scene, signal } = options;
  const api = options.api ?? TABLETOP_API;
  const checks = [...(options.checks ?? [])];
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const maxHelperDepth = options.maxHelperDepth ?? DEFAULT_MAX_HELPER_DEPTH;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(
      `Cannot synthesize: maxAttempts must be an integer >= 1, got ${maxAttempts}`,
    );
  }
  if (!Number.isInteger(maxHelperDepth) || maxHelperDepth < 0) {
    throw new RangeError(
      `Cannot synthesize: maxHelperDepth must be an integer >= 0, got ${maxHelperDepth}`,
    );
  }
  if (instruction.trim() === "") {
    throw new TypeError("Cannot synthesize: the instruction is empty");
  }
  const client = options.client ?? createOpenAiClient();
  const attempts: SynthesisAttempt[] = [];
  const messages = buildPrompt(instruction, { scene, checks, api });
  const ask = async (conversation: readonly ChatMessage[]) => {
    signal?.throwIfAborted();
    try {
      return await client.complete(
        conversation,
        signal === undefined ? {} : { signal },
      );
    } catch (error) {
      if (error instanceof SynthesisError) {
        throw new SynthesisError(error.code, error.message, {
          cause: error.cause ?? error,
          attempts,
        });
      }
      throw error;
    }
  };

  let lastSource: string | null = null;
  let lastHash = "";
  for (let n = 1; n <= maxAttempts; n++) {
    const hash = await promptSha256(messages);
    lastHash = hash;
    const answer = await ask(messages);
    const record: SynthesisAttempt = {
      attempt: n,
      promptSha256: hash,
      answer,
      source: null,
      helpers: [],
      verifier: null,
      dryRun: null,
    };
    let code: string;
    try {
      code = extractCode(answer);
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
      attempts.push(record);
      options.onAttempt?.(record);
      throw new SynthesisError(
        "malformed_answer",
        `Cannot synthesize "${instruction}": attempt ${n}: ${record.error}`,
        { cause: error, attempts },
      );
    }
    attempts.push(record);
    const resolved = await _resolveHelpers(code, {
      api,
      instruction,
      maxHelperDepth,
      ask,
      record,
      attempts,
    });
    record.source = resolved.source;
    record.verifier = resolved.report;
    lastSource = resolved.source;
    messages.push({
      role: "assistant",
      content: "```js\n" + resolved.source + "\n```",
    });
    if (!resolved.report.ok) {
      options.onAttempt?.(record);
      messages.push({
        role: "user",
        content: buildRepairMessage({
          kind: "verifier",
          report: resolved.report,
        }),
      });
      continue;
    }
    const evidence = options.dryRunner !== undefined
      ? await options.dryRunner.run(resolved.source, {
        scene,
        instruction,
        checks,
        ...(signal === undefined ? {} : { signal }),
      })
      : await runLocal(resolved.source, {
        scene,
        instruction,
        checks,
        timeScale: 0,
        api,
        ...(options.caps === undefined ? {} : { caps: options.caps }),
        ...(signal === undefined ? {} : { signal }),
      });
    record.dryRun = evidence;
    options.onAttempt?.(record);
    if (evidence.outcome === "succeeded") {
      return {
        ok: true,
        instruction,
        source: resolved.source,
        attempts,
        model: client.model,
        promptSha256: hash,
        checks,
        apiVersion: api.version,
      };
    }
    signal?.throwIfAborted();
    messages.push({
      role: "user",
      content: buildRepairMessage({ kind: "dry_run", evidence }),
    });
  }
  return {
    ok: false,
    instruction,
    source: lastSource,
    attempts,
    model: client.model,
    promptSha256: lastHash,
    checks,
    apiVersion: api.version,
    error:
      `Cannot synthesize a program for "${instruction}" with model "${client.model}": none of ${maxAttempts} attempt(s) passed; the last ${
        _describeFailure(attempts[attempts.length - 1])
      }`,
  };
}

function _describeFailure(attempt: SynthesisAttempt | undefined): string {
  if (attempt === undefined) return "made no attempt";
  if (attempt.verifier !== null && !attempt.verifier.ok) {
    const first = attempt.verifier.issues[0];
    return `was refused by the verifier (${attempt.verifier.issues.length} issue(s)${
      first === undefined
        ? ""
        : `, first: ${first.code} at line ${first.line}: ${first.message}`
    })`;
  }
  const failure = attempt.dryRun?.failure;
  if (failure !== undefined && failure !== null) {
    return `failed its dry-run: ${failure.label}${
      failure.line === undefined ? "" : ` at line ${failure.line}`
    }: ${failure.message}`;
  }
  return `ended ${attempt.dryRun?.outcome ?? "without a dry-run"}`;
}

/** Names of functions the report says the program calls but does not define. */
function _unknownFunctions(report: VerifierReport): string[] {
  const names: string[] = [];
  for (const issue of report.issues) {
    if (issue.code !== "unknown_function") continue;
    const name = UNKNOWN_FUNCTION.exec(issue.message)?.[1];
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * Verifies `code`; while it calls functions it does not define, asks the
 * model for them level by level (at most `maxHelperDepth` levels) and appends
 * the definitions, then verifies again.
 */
async function _resolveHelpers(
  code: string,
  context: {
    api: SkillApi;
    instruction: string;
    maxHelperDepth: number;
    ask: (conversation: readonly ChatMessage[]) => Promise<string>;
    record: SynthesisAttempt;
    attempts: SynthesisAttempt[];
  },
): Promise<{ source: string; report: VerifierReport }> {
  const { api, instruction, maxHelperDepth, ask, record, attempts } = context;
  let source = code;
  let report = verifyProgram(source, { api });
  const requested = new Set<string>();
  for (let depth = 1; depth <= maxHelperDepth; depth++) {
    const missing = _unknownFunctions(report).filter((n) => !requested.has(n));
    if (missing.length === 0) break;
    const written: string[] = [];
    for (const name of missing) {
      requested.add(name);
      const prompt = buildHelperPrompt(name, {
        program: source,
        instruction,
        api,
      });
      const hash = await promptSha256(prompt);
      const answer = await ask(prompt);
      let helper: string;
      try {
        helper = extractCode(answer);
      } catch (error) {
        throw new SynthesisError(
          "malformed_answer",
          `Cannot synthesize helper "${name}" for "${instruction}": ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error, attempts },
        );
      }
      record.helpers.push({ name, depth, promptSha256: hash, source: helper });
      written.push(helper);
    }
    source = [source, ...written].join("\n\n");
    report = verifyProgram(source, { api });
  }
  return { source, report };
}
