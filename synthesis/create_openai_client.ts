import OpenAI from "openai";
import type { ChatMessage, CompleteOptions, LlmClient } from "./llm_client.ts";
import { SynthesisError } from "./synthesis_error.ts";

/** Default per-request timeout, in milliseconds. */
export const DEFAULT_MODEL_TIMEOUT_MS = 60_000;
/** Default number of retries on 408/409/429/5xx and connection errors. */
export const DEFAULT_MODEL_RETRIES = 2;

/** Options for {@linkcode createOpenAiClient}; unset ones come from the environment. */
export interface OpenAiClientOptions {
  /** Base URL of an OpenAI-compatible server. Default: `OPENAI_BASE_URL`, else OpenAI's. */
  baseURL?: string;
  /** API key. Default: `OPENAI_API_KEY`; servers without keys get `"none"` when a base URL is set. */
  apiKey?: string;
  /** Model name. Default: `CAP_MODEL`. */
  model?: string;
  /** Per-request timeout in milliseconds. Default: `CAP_MODEL_TIMEOUT_MS` or 60 000. */
  timeoutMs?: number;
  /** Retries on 429/5xx, timeouts and connection errors. Default: 2. */
  maxRetries?: number;
  /** Sampling temperature. Default: 0 (as deterministic as the server allows). */
  temperature?: number;
  /** Where to read unset options from. Default: `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

/**
 * Creates an {@linkcode LlmClient} over the `openai` package: any
 * OpenAI-compatible server works (OpenAI, vLLM, llama.cpp, Ollama, the
 * replay server). Throws `SynthesisError("no_model")` when neither a model
 * name nor a way to reach one is configured.
 */
export function createOpenAiClient(
  options: OpenAiClientOptions = {},
): LlmClient {
  const env = options.env ?? _readEnv;
  const baseURL = options.baseURL ?? env("OPENAI_BASE_URL") ??
    OPENAI_DEFAULT_BASE_URL;
  const explicitBase = options.baseURL !== undefined ||
    env("OPENAI_BASE_URL") !== undefined;
  const apiKey = options.apiKey ?? env("OPENAI_API_KEY") ??
    (explicitBase ? "none" : undefined);
  const model = options.model ?? env("CAP_MODEL");
  if (apiKey === undefined) {
    throw new SynthesisError(
      "no_model",
      "Cannot create a model client: no model is configured (set OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server)",
    );
  }
  if (model === undefined || model === "") {
    throw new SynthesisError(
      "no_model",
      `Cannot create a model client for ${baseURL}: no model name (set CAP_MODEL or pass --model)`,
    );
  }
  const envTimeout = Number(env("CAP_MODEL_TIMEOUT_MS"));
  const timeoutMs = options.timeoutMs ??
    (Number.isFinite(envTimeout) && envTimeout > 0
      ? envTimeout
      : DEFAULT_MODEL_TIMEOUT_MS);
  const maxRetries = options.maxRetries ?? DEFAULT_MODEL_RETRIES;
  const temperature = options.temperature ?? 0;
  const openai = new OpenAI({
    baseURL,
    apiKey,
    timeout: timeoutMs,
    maxRetries,
  });
  return {
    model,
    baseURL,
    async complete(
      messages: readonly ChatMessage[],
      opts: CompleteOptions = {},
    ): Promise<string> {
      opts.signal?.throwIfAborted();
      let completion;
      try {
        completion = await openai.chat.completions.create(
          { model, temperature, messages: messages.map((m) => ({ ...m })) },
          opts.signal === undefined ? {} : { signal: opts.signal },
        );
      } catch (error) {
        throw _toSynthesisError(error, {
          model,
          baseURL,
          timeoutMs,
          maxRetries,
        });
      }
      const choice = completion.choices?.[0];
      const content = choice?.message?.content;
      if (typeof content !== "string") {
        throw new SynthesisError(
          "malformed_answer",
          `Cannot use the answer of model "${model}" at ${baseURL}: it holds no message content, got ${
            JSON.stringify(completion).slice(0, 200)
          }`,
        );
      }
      return content;
    },
  };
}

function _readEnv(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value === "" ? undefined : value;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

function _toSynthesisError(
  error: unknown,
  where: {
    model: string;
    baseURL: string;
    timeoutMs: number;
    maxRetries: number;
  },
): SynthesisError {
  const who = `model "${where.model}" at ${where.baseURL}`;
  const tries = `${where.maxRetries + 1} attempt(s)`;
  if (error instanceof OpenAI.APIUserAbortError) {
    return new SynthesisError("aborted", `Cannot ask ${who}: aborted`, {
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new SynthesisError(
      "timeout",
      `Cannot ask ${who}: no answer within ${where.timeoutMs} ms (${tries})`,
      { cause: error },
    );
  }
  if (error instanceof OpenAI.APIConnectionError) {
    const why = error.cause instanceof Error
      ? error.cause.message
      : error.message;
    return new SynthesisError(
      "model_unreachable",
      `Cannot reach ${who}: ${why} (${tries}); is the server running and OPENAI_BASE_URL right?`,
      { cause: error },
    );
  }
  if (error instanceof OpenAI.APIError) {
    const retried = error.status === 429 || (error.status ?? 0) >= 500
      ? ` after ${tries}`
      : "";
    return new SynthesisError(
      "model_error",
      `Cannot ask ${who}: the server answered HTTP ${error.status}${retried}: ${error.message}`,
      { cause: error },
    );
  }
  if (error instanceof Error && error.name === "AbortError") {
    return new SynthesisError("aborted", `Cannot ask ${who}: aborted`, {
      cause: error,
    });
  }
  return new SynthesisError(
    "model_error",
    `Cannot ask ${who}: ${
      error instanceof Error ? error.message : String(error)
    }`,
    { cause: error },
  );
}
