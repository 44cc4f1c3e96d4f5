/**
 * A local OpenAI-compatible HTTP server for tests, scripted per request: the
 * real `openai` client talks to it over a real socket on 127.0.0.1.
 * @module
 */

/** What the fake answers to one chat completion request. */
export type FakeReply =
  /** A normal completion whose assistant message is `content`. */
  | { content: string }
  /** An HTTP error (the client retries 429/5xx; `retry-after-ms: 0` keeps it fast). */
  | { status: number; message?: string }
  /** No answer until the server closes (the client times out first). */
  | { hang: true };

/** One request the fake received. */
export interface FakeRequest {
  model: string;
  messages: { role: string; content: string }[];
}

/** A script: a list of replies used in order, or a function of the request and its index. */
export type FakeScript =
  | readonly FakeReply[]
  | ((request: FakeRequest, index: number) => FakeReply);

/** A running fake server. */
export interface FakeOpenAiServer extends AsyncDisposable {
  /** Base URL for the client, e.g. `http://127.0.0.1:41234/v1`. */
  readonly baseURL: string;
  /** Every chat completion request received, in order. */
  readonly requests: FakeRequest[];
  /** Stops the server and releases hanging requests. */
  close(): Promise<void>;
}

/** Starts a fake OpenAI-compatible server on 127.0.0.1 with a free port. */
export function startFakeOpenAiServer(script: FakeScript): FakeOpenAiServer {
  const requests: FakeRequest[] = [];
  const closing = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (req.method === "GET" && url.pathname === "/v1/models") {
        return Response.json({
          object: "list",
          data: [{ id: "fake", object: "model", owned_by: "test" }],
        });
      }
      if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") {
        return Response.json({ error: { message: "not found" } }, {
          status: 404,
        });
      }
      const body = await req.json() as FakeRequest;
      const index = requests.length;
      requests.push({ model: body.model, messages: body.messages });
      const reply = typeof script === "function"
        ? script(body, index)
        : script[Math.min(index, script.length - 1)];
      if (reply === undefined) {
        return Response.json({ error: { message: "script is empty" } }, {
          status: 500,
          headers: { "x-should-retry": "false" },
        });
      }
      if ("hang" in reply) {
        await new Promise<void>((resolve) => {
          const done = () => resolve();
          if (closing.signal.aborted) return done();
          closing.signal.addEventListener("abort", done, { once: true });
        });
        return new Response(null, { status: 499 });
      }
      if ("status" in reply) {
        return Response.json(
          { error: { message: reply.message ?? `scripted ${reply.status}` } },
          { status: reply.status, headers: { "retry-after-ms": "0" } },
        );
      }
      return Response.json({
        id: `chatcmpl-${index}`,
        object: "chat.completion",
        created: 0,
        model: body.model,
        choices: [{
          index: 0,
          finish_reason: "stop",
          message: { role: "assistant", content: reply.content },
        }],
        usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      });
    },
  );
  const close = async () => {
    closing.abort();
    await server.shutdown();
  };
  return {
    baseURL: `http://127.0.0.1:${server.addr.port}/v1`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}
