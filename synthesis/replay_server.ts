import { HELPER_MARKER } from "./build_helper_prompt.ts";
import { INSTRUCTION_MARKER } from "./build_prompt.ts";

/** The model name the replay server reports: provenance says plainly it was a replay. */
export const REPLAY_MODEL = "replay";

/**
 * Recorded model answers: normalized key → answers in order (first attempt,
 * then the answers to repair prompts; the last one repeats). Keys are the
 * instruction or `helper:<name>`, normalized by {@linkcode replayKey}.
 */
export type ReplayAnswers = Readonly<Record<string, readonly string[]>>;

/** The recordings shipped with the project. */
export const DEFAULT_REPLAY_FILE: URL = new URL(
  "./replay/answers.json",
  import.meta.url,
);

/** Normalizes an instruction or helper key: lowercase, single spaces, no trailing period. */
export function replayKey(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, " ").replace(/[.!]+$/, "");
}

/** Reads a recordings file `{ "answers": { key: [answer, …] } }` and normalizes its keys. */
export async function loadReplayAnswers(
  path: string | URL = DEFAULT_REPLAY_FILE,
  options: { signal?: AbortSignal } = {},
): Promise<ReplayAnswers> {
  const text = await Deno.readTextFile(
    path,
    options.signal === undefined ? {} : { signal: options.signal },
  );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot load replay answers "${String(path)}": ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  const answers = (json as { answers?: unknown })?.answers;
  if (typeof answers !== "object" || answers === null) {
    throw new TypeError(
      `Cannot load replay answers "${
        String(path)
      }": "answers" must be an object of key → [answer, …]`,
    );
  }
  const out: Record<string, string[]> = {};
  for (const [key, list] of Object.entries(answers)) {
    if (
      !Array.isArray(list) || list.length === 0 ||
      !list.every((a) => typeof a === "string")
    ) {
      throw new TypeError(
        `Cannot load replay answers "${String(path)}": answers[${
          JSON.stringify(key)
        }] must be a non-empty array of strings`,
      );
    }
    out[replayKey(key)] = list;
  }
  return out;
}

/** Options for {@linkcode startReplayServer}. */
export interface ReplayServerOptions {
  /** The recordings. Default: {@linkcode loadReplayAnswers} of the shipped file. */
  answers?: ReplayAnswers;
  /** Port on 127.0.0.1. Default: 0 (a free one). */
  port?: number;
  /** Aborting stops the server. */
  signal?: AbortSignal;
}

/** A running replay server. */
export interface ReplayServer extends AsyncDisposable {
  /** Base URL for an OpenAI client, e.g. `http://127.0.0.1:41234/v1`. */
  readonly baseURL: string;
  /** Always {@linkcode REPLAY_MODEL}. */
  readonly model: string;
  /** Stops the server. */
  close(): Promise<void>;
}

interface _Message {
  role?: unknown;
  content?: unknown;
}

function _lookup(
  answers: ReplayAnswers,
  messages: readonly _Message[],
): { key: string; answer: string | undefined } {
  const firstUser = messages.find((m) => m.role === "user");
  const text = typeof firstUser?.content === "string" ? firstUser.content : "";
  const lines = text.split("\n");
  const helper = lines.findLast((l) => l.startsWith(HELPER_MARKER));
  const instruction = lines.findLast((l) => l.startsWith(INSTRUCTION_MARKER));
  const key = helper !== undefined
    ? replayKey(`helper:${helper.slice(HELPER_MARKER.length)}`)
    : replayKey(instruction?.slice(INSTRUCTION_MARKER.length) ?? text);
  const list = answers[key];
  if (list === undefined) return { key, answer: undefined };
  const turn = messages.filter((m) => m.role === "assistant").length;
  return { key, answer: list[Math.min(turn, list.length - 1)] };
}

/**
 * Starts a local OpenAI-compatible server (`POST /v1/chat/completions`,
 * `GET /v1/models`) on 127.0.0.1 that serves recorded answers instead of a
 * model: the demo and the eval use it when no `OPENAI_API_KEY` is set. The
 * n-th answer of a recording answers a conversation with n-1 assistant turns
 * (so recorded wrong-first answers exercise repair). An unknown instruction
 * gets HTTP 404 saying it is a replay.
 */
export async function startReplayServer(
  options: ReplayServerOptions = {},
): Promise<ReplayServer> {
  const answers = options.answers ??
    await loadReplayAnswers(
      DEFAULT_REPLAY_FILE,
      options.signal === undefined ? {} : { signal: options.signal },
    );
  let served = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }, async (req) => {
    const url = new URL(req.url);
    if (req.method === "GET" && url.pathname === "/v1/models") {
      return Response.json({
        object: "list",
        data: [{
          id: REPLAY_MODEL,
          object: "model",
          owned_by: "cap-edge-replay",
        }],
      });
    }
    if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") {
      return _error(
        404,
        `The replay server has no ${req.method} ${url.pathname}`,
      );
    }
    let body: { model?: unknown; messages?: unknown };
    try {
      body = await req.json();
    } catch {
      return _error(400, "The replay server needs a JSON body");
    }
    if (!Array.isArray(body.messages)) {
      return _error(400, 'The replay server needs "messages": [...]');
    }
    const { key, answer } = _lookup(answers, body.messages as _Message[]);
    if (answer === undefined) {
      return _error(
        404,
        `No recorded answer for ${
          JSON.stringify(key)
        }: this is the cap-edge replay server, not a model; set OPENAI_API_KEY (and CAP_MODEL) to use a real one`,
      );
    }
    served++;
    return Response.json({
      id: `replay-${served}`,
      object: "chat.completion",
      created: 0,
      model: REPLAY_MODEL,
      choices: [{
        index: 0,
        finish_reason: "stop",
        message: { role: "assistant", content: answer },
      }],
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    });
  });
  const close = async () => {
    await server.shutdown();
  };
  return {
    baseURL: `http://127.0.0.1:${server.addr.port}/v1`,
    model: REPLAY_MODEL,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function _error(status: number, message: string): Response {
  return Response.json(
    { error: { message, type: "replay", code: null } },
    { status, headers: { "x-should-retry": "false" } },
  );
}

if (import.meta.main) {
  const server = await startReplayServer();
  console.log(
    `Replay server (recorded answers, not a model) at ${server.baseURL}: OPENAI_BASE_URL=${server.baseURL} CAP_MODEL=${REPLAY_MODEL}`,
  );
}
