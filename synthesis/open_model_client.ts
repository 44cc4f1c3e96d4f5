import {
  createOpenAiClient,
  type OpenAiClientOptions,
} from "./create_openai_client.ts";
import type { LlmClient } from "./llm_client.ts";
import { startReplayServer } from "./replay_server.ts";
import type { ReplayAnswers } from "./replay_server.ts";

/** A model client, possibly backed by the replay server it owns. */
export interface ModelConnection extends AsyncDisposable {
  /** The client to ask. */
  readonly client: LlmClient;
  /** True when the answers are recordings, not a model. */
  readonly replay: boolean;
  /** One line saying what answers: the model and base URL, or plainly that it is a replay. */
  readonly note: string;
}

/** Options for {@linkcode openModelClient}. */
export interface OpenModelClientOptions extends OpenAiClientOptions {
  /** Use the replay server even when a model is configured. */
  replay?: boolean;
  /** Recordings for the replay server. Default: the shipped ones. */
  answers?: ReplayAnswers;
  /** Aborting stops the replay server's start. */
  signal?: AbortSignal;
}

/**
 * Connects to the configured model (`OPENAI_BASE_URL`, `OPENAI_API_KEY`,
 * `CAP_MODEL`), or, when neither an API key nor a base URL is set (or
 * `replay` is asked for), starts the local replay server of recorded answers
 * and connects to that. Dispose it to stop the replay server.
 */
export async function openModelClient(
  options: OpenModelClientOptions = {},
): Promise<ModelConnection> {
  const env = options.env ?? ((name: string) => {
    try {
      const value = Deno.env.get(name);
      return value === "" ? undefined : value;
    } catch {
      return undefined;
    }
  });
  const configured = options.apiKey !== undefined ||
    options.baseURL !== undefined || env("OPENAI_API_KEY") !== undefined ||
    env("OPENAI_BASE_URL") !== undefined;
  if (options.replay !== true && configured) {
    const { replay: _r, answers: _a, signal: _s, ...clientOptions } = options;
    const client = createOpenAiClient({ ...clientOptions, env });
    return {
      client,
      replay: false,
      note: `Model "${client.model}" at ${client.baseURL}`,
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const server = await startReplayServer({
    ...(options.answers === undefined ? {} : { answers: options.answers }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  try {
    const client = createOpenAiClient({
      baseURL: server.baseURL,
      apiKey: "replay",
      model: server.model,
      maxRetries: 0,
      ...(options.timeoutMs === undefined
        ? {}
        : { timeoutMs: options.timeoutMs }),
      env: () => undefined,
    });
    return {
      client,
      replay: true,
      note:
        `REPLAY: no OPENAI_API_KEY or OPENAI_BASE_URL set, so recorded answers are served by the local replay server at ${server.baseURL} (not a model)`,
      [Symbol.asyncDispose]: () => server.close(),
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}
