/** One chat message, as OpenAI-compatible chat completion APIs take it. */
export interface ChatMessage {
  /** Who says it. */
  role: "system" | "user" | "assistant";
  /** The text of the message. */
  content: string;
}

/** Options for one completion. */
export interface CompleteOptions {
  /** Aborting cancels the request; `complete` then rejects with `SynthesisError("aborted")`. */
  signal?: AbortSignal;
}

/**
 * A chat model that writes programs. `createOpenAiClient` talks to any
 * OpenAI-compatible server; tests and the replay use the same client against
 * a local server.
 */
export interface LlmClient {
  /** The model's name, recorded in the provenance of every signed program. */
  readonly model: string;
  /** Where the model is served (base URL), for messages. */
  readonly baseURL: string;
  /**
   * Sends the conversation and resolves with the assistant's text. Rejects
   * with a `SynthesisError` when the model is unreachable, answers with an
   * HTTP error, times out, or the signal aborts.
   */
  complete(
    messages: readonly ChatMessage[],
    options?: CompleteOptions,
  ): Promise<string>;
}
