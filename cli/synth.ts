/**
 * `cap synth "<instruction>" --world <scene.json> [--check EXPR]… [--to host:port]…
 * [--key private.jwk.json] [--out envelope.json] [--json]`: writes a program
 * with an LLM (or the replay server when no model is configured), verifies
 * and dry-runs it, signs it with provenance and delivers it.
 * @module
 */
import { parseArgs } from "node:util";
import { loadScene } from "../skills-bridge/mod.ts";
import {
  openModelClient,
  signProgram,
  type SynthesisAttempt,
  SynthesisError,
  synthesize,
} from "../synthesis/mod.ts";
import type { Envelope } from "../verifier/mod.ts";

/** What a delivery to one robot ended with. */
export interface DeliveryResult {
  ok: boolean;
  /** What the robot said (its receipt or the error). */
  message: string;
}

/** Sends a signed envelope to the robot service at `target` (`host:port`). */
export type DeliverFn = (
  target: string,
  envelope: Envelope,
  options: { signal?: AbortSignal },
) => Promise<DeliveryResult>;

/** Options for {@linkcode synthCommand}. */
export interface SynthCommandOptions {
  signal?: AbortSignal;
  /** The gRPC delivery client for `--to`; without it `--to` is refused. */
  deliver?: DeliverFn;
}

const USAGE =
  `Usage: cap synth "<instruction>" --world <scene.json> [--check <expr>]… [--to <host:port>]…
       [--key <private.jwk.json>] [--key-id <id>] [--out <envelope.json>] [--program-id <id>]
       [--robot <id>]… [--model <name>] [--max-attempts N] [--max-helper-depth N] [--replay] [--json]
Model: OPENAI_BASE_URL, OPENAI_API_KEY, CAP_MODEL (any OpenAI-compatible server); with neither
OPENAI_API_KEY nor OPENAI_BASE_URL set, recorded answers from the replay server are used.`;

/**
 * Runs `cap synth`. Exit code 0 when a program was synthesized (and signed,
 * written and delivered as asked), 1 when synthesis or delivery failed, 2 on
 * bad usage.
 */
export async function synthCommand(
  args: string[],
  options: SynthCommandOptions = {},
): Promise<number> {
  const { signal } = options;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        world: { type: "string" },
        check: { type: "string", multiple: true },
        to: { type: "string", multiple: true },
        key: { type: "string" },
        "key-id": { type: "string" },
        out: { type: "string" },
        "program-id": { type: "string" },
        robot: { type: "string", multiple: true },
        model: { type: "string" },
        "max-attempts": { type: "string" },
        "max-helper-depth": { type: "string" },
        replay: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const json = values.json === true;
  const usage = (message: string) => {
    console.error(`cap synth: ${message}\n${USAGE}`);
    return 2;
  };
  if (positionals.length !== 1 || positionals[0]?.trim() === "") {
    return usage(
      `expected one instruction in quotes, got ${positionals.length} argument(s)`,
    );
  }
  const instruction = positionals[0] as string;
  if (values.world === undefined) {
    return usage("--world <scene.json> is required");
  }
  const maxAttempts = _int(values["max-attempts"]);
  const maxHelperDepth = _int(values["max-helper-depth"]);
  if (maxAttempts === null || (maxAttempts !== undefined && maxAttempts < 1)) {
    return usage(
      `--max-attempts must be an integer >= 1, got ${values["max-attempts"]}`,
    );
  }
  if (
    maxHelperDepth === null ||
    (maxHelperDepth !== undefined && maxHelperDepth < 0)
  ) {
    return usage(
      `--max-helper-depth must be an integer >= 0, got ${
        values["max-helper-depth"]
      }`,
    );
  }
  const targets = values.to ?? [];
  if (
    (targets.length > 0 || values.out !== undefined) && values.key === undefined
  ) {
    return usage(
      "--to and --out need --key <private.jwk.json> to sign the program",
    );
  }
  if (targets.length > 0 && options.deliver === undefined) {
    console.error(
      "cap synth: Cannot deliver with --to: no gRPC delivery client is available in this build; use --out and `cap send`",
    );
    return 2;
  }

  let scene;
  let privateJwk: JsonWebKey | undefined;
  try {
    scene = await loadScene(values.world, signal ? { signal } : {});
    if (values.key !== undefined) {
      privateJwk = await _readKey(values.key, signal);
    }
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}`);
    return 1;
  }

  let connection;
  try {
    connection = await openModelClient({
      ...(values.model === undefined ? {} : { model: values.model }),
      ...(values.replay ? { replay: true } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    console.error(`cap synth: ${(error as Error).message}`);
    return 1;
  }
  await using _connection = connection;
  console.error(connection.note);

  let result;
  try {
    result = await synthesize(instruction, {
      scene,
      checks: values.check ?? [],
      client: connection.client,
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
      ...(maxHelperDepth === undefined ? {} : { maxHelperDepth }),
      ...(json ? {} : { onAttempt: (a) => console.error(_describeAttempt(a)) }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (!(error instanceof SynthesisError)) throw error;
    if (json) {
      console.log(JSON.stringify(
        {
          ok: false,
          instruction,
          model: connection.client.model,
          replay: connection.replay,
          error: error.message,
          errorCode: error.code,
          attempts: error.attempts,
        },
        null,
        2,
      ));
    } else console.error(`cap synth: ${error.message}`);
    return 1;
  }

  let envelope: Envelope | undefined;
  const deliveries: { target: string; ok: boolean; message: string }[] = [];
  let code = result.ok ? 0 : 1;
  if (result.ok && privateJwk !== undefined) {
    try {
      envelope = await signProgram(result, privateJwk, {
        ...(values["key-id"] === undefined ? {} : { keyId: values["key-id"] }),
        ...(values["program-id"] === undefined
          ? {}
          : { programId: values["program-id"] }),
        ...(values.robot === undefined ? {} : { robots: values.robot }),
      });
      if (values.out !== undefined) {
        await Deno.writeTextFile(
          values.out,
          JSON.stringify(envelope, null, 2) + "\n",
          signal ? { signal } : {},
        );
      }
    } catch (error) {
      console.error(`cap synth: ${(error as Error).message}`);
      return 1;
    }
    for (const target of targets) {
      try {
        const delivered = await options.deliver!(
          target,
          envelope,
          signal ? { signal } : {},
        );
        deliveries.push({ target, ...delivered });
      } catch (error) {
        deliveries.push({
          target,
          ok: false,
          message: `Cannot deliver to ${target}: ${(error as Error).message}`,
        });
      }
    }
    if (deliveries.some((d) => !d.ok)) code = 1;
  }

  if (json) {
    console.log(JSON.stringify(
      {
        ok: result.ok,
        instruction,
        model: result.model,
        replay: connection.replay,
        promptSha256: result.promptSha256,
        source: result.source,
        ...(result.error === undefined ? {} : { error: result.error }),
        attempts: result.attempts,
        ...(envelope === undefined ? {} : { envelope }),
        ...(values.out === undefined || envelope === undefined
          ? {}
          : { out: values.out }),
        deliveries,
      },
      null,
      2,
    ));
    return code;
  }
  if (!result.ok) {
    console.error(`cap synth: ${result.error}`);
    return code;
  }
  console.log(result.source);
  console.error(
    `Synthesized in ${result.attempts.length} attempt(s) by ${
      connection.replay
        ? "the replay server (recorded answers)"
        : `model "${result.model}"`
    }; prompt sha256 ${result.promptSha256}`,
  );
  if (envelope !== undefined) {
    console.error(
      values.out === undefined
        ? `Signed (key ${envelope.signatures[0]?.keyid ?? "?"})`
        : `Signed envelope written to ${values.out}`,
    );
  }
  for (const d of deliveries) {
    console.error(
      `${d.ok ? "Delivered to" : "Not delivered to"} ${d.target}: ${d.message}`,
    );
  }
  return code;
}

function _int(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isInteger(n) ? n : null;
}

async function _readKey(
  path: string,
  signal?: AbortSignal,
): Promise<JsonWebKey> {
  let text: string;
  try {
    text = await Deno.readTextFile(path, signal ? { signal } : {});
  } catch (error) {
    throw new Error(`Cannot read key "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as JsonWebKey;
  } catch (error) {
    throw new Error(
      `Cannot read key "${path}": not JSON (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
}

/** One progress line for an attempt. */
function _describeAttempt(a: SynthesisAttempt): string {
  const helpers = a.helpers.length === 0
    ? ""
    : ` (+${a.helpers.length} helper(s): ${
      a.helpers.map((h) => h.name).join(", ")
    })`;
  if (a.error !== undefined) return `attempt ${a.attempt}: ${a.error}`;
  if (a.verifier !== null && !a.verifier.ok) {
    const first = a.verifier.issues[0];
    return `attempt ${a.attempt}${helpers}: verifier refused (${a.verifier.issues.length} issue(s)${
      first === undefined
        ? ""
        : `; ${first.code} line ${first.line}: ${first.message}`
    })`;
  }
  if (a.dryRun === null) return `attempt ${a.attempt}${helpers}: no dry-run`;
  if (a.dryRun.outcome === "succeeded") {
    return `attempt ${a.attempt}${helpers}: dry-run succeeded (${a.dryRun.calls.length} skill call(s), ${a.dryRun.checks.length} check(s) held)`;
  }
  const f = a.dryRun.failure;
  return `attempt ${a.attempt}${helpers}: dry-run ${a.dryRun.outcome}${
    f === null
      ? ""
      : `: ${f.label}${
        f.line === undefined ? "" : ` at line ${f.line}`
      }: ${f.message}`
  }`;
}
